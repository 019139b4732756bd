"""The packages of the distribution, found under the directories pyproject.toml's package-dir maps.

Each top-level package lives in a directory of another name (sdk/genie_agent, deploy_scripts, tui, ...),
which ``[tool.setuptools.packages.find]`` cannot follow: it would name tui's subpackages ``widgets``,
not ``genie_agent_tui.widgets``. Listing them by hand drifts, so every package below each mapped
directory is found here: namespace discovery, so a directory of data (prompts/, examples/tpch/) is a
package too and its files (MANIFEST.in) are its package data. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent


def _packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    packages = []
    for name, directory in package_dir.items():
        found = find_namespace_packages(where=str(ROOT / directory), exclude=["__pycache__", "*.__pycache__"])
        packages += [name, *(f"{name}.{sub}" for sub in found)]
    return sorted(packages)


setup(packages=_packages())
