"""A client for the Genie API server run as its own process by the load tests, so that its CPU
and its threads are not the server's: ``python genie_load_client.py URL TOKEN`` reads
``[[space, question], ...]`` on stdin, starts every conversation at once, waits one second, then
polls each message every 0.2 s until it ends, and prints the last message of each as a JSON list.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx

BASE = "/api/2.0/genie/spaces"
PER_CLIENT = 50  # httpx's pool scans every waiting request when a connection frees: keep pools small


async def converse(client: httpx.AsyncClient, space: str, question: str) -> dict[str, Any]:
    r = await client.post(f"{BASE}/{space}/start-conversation", json={"content": question})
    r.raise_for_status()
    body = r.json()
    path = f"{BASE}/{space}/conversations/{body['conversation_id']}/messages/{body['message_id']}"
    await asyncio.sleep(1.0)
    while True:
        r = await client.get(path)
        r.raise_for_status()
        message: dict[str, Any] = r.json()
        if message["status"] in ("COMPLETED", "FAILED", "CANCELLED", "QUERY_RESULT_EXPIRED"):
            return message
        await asyncio.sleep(0.2)


async def main(url: str, token: str, asks: list[list[str]]) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=PER_CLIENT, max_keepalive_connections=PER_CLIENT)
    headers = {"Authorization": f"Bearer {token}"}
    clients = [
        httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30)
        for _ in range(0, len(asks), PER_CLIENT)
    ]
    try:
        return await asyncio.gather(
            *(converse(clients[i // PER_CLIENT], space, q) for i, (space, q) in enumerate(asks))
        )
    finally:
        for client in clients:
            await client.aclose()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], json.load(sys.stdin)))))
