"""A chart of a result as a PNG, written with zlib and struct alone: what the emulator's
download-visualization answers (Genie renders its own; this one has bars or a line, axes, no text).

A PNG here is the signature, an IHDR chunk (8-bit RGB, no interlace), one IDAT chunk of the
zlib-compressed scanlines (filter 0 each) and IEND, every chunk with its CRC-32 (PNG specification,
section 5).
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from typing import Any

from ..column_kinds import parse_number

__all__ = ["HEIGHT", "WIDTH", "bar_png", "png"]

WIDTH, HEIGHT = 640, 360
_BACKGROUND = (255, 255, 255)
_AXIS = (60, 60, 60)
_INK = (78, 161, 211)
_MARGIN = 24
_MAX_POINTS = 200

Pixel = tuple[int, int, int]


def png(width: int, height: int, pixels: Sequence[bytearray]) -> bytes:
    """An 8-bit RGB PNG of ``height`` rows of ``width * 3`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, truecolour, no interlace
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(_BACKGROUND * width) for _ in range(height)]

    def dot(self, x: int, y: int, colour: Pixel) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.rows[y][3 * x : 3 * x + 3] = bytes(colour)

    def box(self, x0: int, y0: int, x1: int, y1: int, colour: Pixel) -> None:
        for y in range(max(0, min(y0, y1)), min(self.height, max(y0, y1) + 1)):
            left, right = max(0, min(x0, x1)), min(self.width - 1, max(x0, x1))
            if left <= right:
                self.rows[y][3 * left : 3 * right + 3] = bytes(colour) * (right - left + 1)

    def line(self, x0: int, y0: int, x1: int, y1: int, colour: Pixel) -> None:
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            x, y = x0 + (x1 - x0) * i // steps, y0 + (y1 - y0) * i // steps
            self.box(x - 1, y - 1, x + 1, y + 1, colour)


def bar_png(kind: str, values: Sequence[Any], width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A chart of ``values`` (numbers, or numbers as text; others count as 0): one bar per value, or
    for ``kind`` ``line`` a line through them, over axes that start at zero (or end at it)."""
    numbers = [parse_number(v) or 0.0 for v in values][:_MAX_POINTS]
    canvas = _Canvas(width, height)
    top, bottom, left, right = _MARGIN, height - _MARGIN, _MARGIN, width - _MARGIN
    high, low = max([0.0, *numbers]), min([0.0, *numbers])
    span = (high - low) or 1.0

    def y_of(value: float) -> int:
        return bottom - round((value - low) / span * (bottom - top))

    zero = y_of(0.0)
    canvas.box(left, top, left + 1, bottom, _AXIS)
    canvas.box(left, zero, right, zero + 1, _AXIS)
    if numbers:
        step = (right - left - 4) / len(numbers)
        centres = [left + 4 + round(step * (i + 0.5)) for i in range(len(numbers))]
        if kind == "line":
            points = [(x, y_of(v)) for x, v in zip(centres, numbers, strict=True)]
            for (x0, y0), (x1, y1) in itertools.pairwise(points):
                canvas.line(x0, y0, x1, y1, _INK)
            for x, y in points:
                canvas.box(x - 2, y - 2, x + 2, y + 2, _INK)
        else:
            half = max(1, round(step * 0.35))
            for x, v in zip(centres, numbers, strict=True):
                canvas.box(x - half, y_of(v), x + half, zero, _INK)
    return png(width, height, canvas.rows)
