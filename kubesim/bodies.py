"""Request bodies: the 3 MiB limit (413) and JSON/YAML decoding (400 on malformed input)."""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kubesim import status

MAX_BODY = 3 * 1024 * 1024
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


async def read_body(request: web.BaseRequest) -> bytes:
    """The request body, or 413 once it passes 3 MiB."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise status.entity_too_large(MAX_BODY)
    chunks = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY:
            raise status.entity_too_large(MAX_BODY)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(raw: bytes, *, what: str) -> Any:
    """A JSON body; 400 BadRequest when empty or malformed."""
    if not raw.strip():
        raise status.bad_request(f"the body of the request is empty: expected a {what}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def decode_yaml(raw: bytes) -> Any:
    """A YAML (or JSON) body, as apply-patch+yaml sends it; 400 when malformed."""
    if not raw.strip():
        raise status.bad_request("the body of the request is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return yaml.load(raw, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        line = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            line = f"line {mark.line + 1}: "
        problem = getattr(exc, "problem", None) or str(exc)
        raise status.bad_request(f"error converting YAML to JSON: yaml: {line}{problem}") from None
