"""Helpers for the conformance suite: raw HTTP through kubernetes_asyncio's own session."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import orjson
from kubernetes_asyncio import client
from multidict import CIMultiDictProxy


@dataclass(frozen=True)
class RawResponse:
    """An HTTP answer exactly as the server sent it."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return orjson.loads(self.body)

    @property
    def lines(self) -> list[Any]:
        """A watch body's events, one JSON document per line."""
        return [orjson.loads(line) for line in self.body.split(b"\n") if line]


class Raw:
    """Raw requests over the ApiClient's own session, with its bearer token."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        data: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> RawResponse:
        """Send one request; ``body`` is JSON-encoded, ``data`` is sent as is."""
        cfg = self.api.configuration
        all_headers = {
            "Authorization": cfg.api_key["BearerToken"],
            "Content-Type": content_type,
            "User-Agent": self.api.user_agent,
        }
        all_headers.update(headers or {})
        if body is not None:
            data = orjson.dumps(body)
        session = self.api.rest_client.pool_manager
        payload: Any = io.BytesIO(data) if data is not None and len(data) > 1 << 20 else data
        async with session.request(
            method, cfg.host + path, headers=all_headers, data=payload
        ) as resp:
            return RawResponse(resp.status, resp.headers, await resp.read())


async def read_lines(raw: Raw, path: str, count: int) -> list[Any]:
    """The first ``count`` events of a watch (then the connection is closed)."""
    cfg = raw.api.configuration
    headers = {"Authorization": cfg.api_key["BearerToken"]}
    session = raw.api.rest_client.pool_manager
    out: list[Any] = []
    async with session.get(cfg.host + path, headers=headers) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (200, "application/json")
        while len(out) < count:
            line = await resp.content.readline()
            if not line:
                break
            assert line != b"\n", "a watch stream must not carry blank lines"
            out.append(orjson.loads(line))
    return out
