"""What the render pool and its workers say to each other, and the render a job stands for.

A ``Job`` goes to a worker as one frame: an 8-byte little-endian length, then the
pickled job (the parent is trusted: pickling carries any ``RenderConfig`` a newer branch
grows). The secret-digest key travels inside it, never on a command line or in an
environment. The worker answers with one frame: a 16-byte head (the lengths of a JSON
header and of the raw bytes after it), the header, then the bytes. The answer is never
unpickled: a worker evaluates untrusted templates, so what comes back is parsed as data.

Kinds of answer (``header["kind"]``):
- ``rendered``: ``objects`` (object key -> digest), ``renderer``, ``inputs``, ``sizes``
  ([digest, length] in the order the canonical JSON bodies follow the header);
- ``objects``: the raw (unredacted) objects as one JSON array after the header, for a
  job without a key (Secrets applied from a fresh render);
- ``error``: ``message``, ``file``, ``line``, ``inputs`` (a ``RenderError``);
- ``limit``: ``limit`` (``memory`` or ``output``) and ``size``; the worker exits after a
  memory error, as its heap may be left in a state no one should render in.

``run`` is the render itself (used by the worker, and in-process by benchmarks).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import pickle
import struct
from collections.abc import Sequence
from typing import Any

import orjson
import pygit2

from daemon.core import codec, ids, manifests
from daemon.settings import RenderConfig
from daemon.shell import render

JOB_HEAD = struct.Struct("<Q")
REPLY_HEAD = struct.Struct("<QQ")
MAX_HEADER_BYTES = 64 << 20
"""A reply header beyond this is a broken worker, whatever the app's output limit."""
TREE_CACHE_LIMIT = 4 << 20
"""Largest tree libgit2 keeps in its object cache. Its default (4 KiB) leaves out a
monorepo's directory of 1,000 apps (~40 KiB), which every path lookup of every render
then reads and parses again: four fifths of a render's time."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One render: an app's path and settings at a commit of a mirror.

    With a ``key`` the result is redacted (``Rendered``); without one the raw objects
    come back (only for applying Secrets' real values).
    """

    repo: str
    revision: str
    path: str
    config: RenderConfig
    key: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Rendered:
    """A successful render, redacted, ready to store."""

    objects: dict[str, str]
    """Object key -> digest of its redacted body."""
    bodies: dict[str, bytes]
    """Digest -> canonical JSON."""
    renderer: str
    inputs: tuple[str, ...]


class RenderLimitError(render.RenderError):
    """A render went past one of its app's ``render.limits``; ``limit`` names which."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class WorkerDiedError(render.RenderError):
    """The worker rendering died for another reason (a crash, a signal from outside)."""


def redacted(
    objects: Sequence[dict[str, Any]], *, renderer: str, inputs: frozenset[str], key: bytes
) -> Rendered:
    """Secret values replaced by keyed digests, bodies as canonical JSON by digest."""
    by_key: dict[str, str] = {}
    bodies: dict[str, bytes] = {}
    for obj in objects:
        body = codec.dumps(manifests.redact(obj, key=key))
        digest = hashlib.sha256(body).hexdigest()
        by_key[ids.key_of(obj)] = digest
        bodies[digest] = body
    return Rendered(objects=by_key, bodies=bodies, renderer=renderer, inputs=tuple(sorted(inputs)))


def run(
    job: Job, *, repos: dict[str, pygit2.Repository] | None = None, inputs: set[str] | None = None
) -> Rendered | list[dict[str, Any]]:
    """Blocking: render ``job`` (``RenderError``, or pygit2/OS errors reading the mirror).

    ``repos`` keeps opened mirrors between jobs (libgit2 refreshes its pack list when
    an object is missing, so a fetch in another process is seen).
    """
    repo = repos.get(job.repo) if repos is not None else None
    if repo is None:
        repo = pygit2.Repository(job.repo)
        if repos is not None:
            repos[job.repo] = repo
    limits = dataclasses.replace(
        render.DEFAULT_LIMITS, max_output_bytes=int(job.config.limits.output)
    )
    result = render.render(
        render.GitTree(repo, job.revision),
        path=job.path,
        config=job.config,
        limits=limits,
        inputs=inputs,
    )
    if job.key is None:
        return result.objects
    return redacted(result.objects, renderer=result.renderer, inputs=result.inputs, key=job.key)


def encode_job(job: Job) -> bytes:
    """The frame that hands ``job`` to a worker."""
    payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    return JOB_HEAD.pack(len(payload)) + payload


def decode_job(payload: bytes) -> Job:
    """The job in a frame's payload (worker side; the parent is trusted)."""
    job = pickle.loads(payload)  # noqa: S301 - written by the parent process only
    if not isinstance(job, Job):
        raise TypeError(f"expected a render job, got {type(job).__name__}")
    return job


def encode_reply(header: dict[str, Any], blobs: Sequence[bytes] = ()) -> bytes:
    """One reply frame: head, JSON header, then ``blobs`` back to back."""
    head = orjson.dumps(header)
    size = sum(len(b) for b in blobs)
    return b"".join([REPLY_HEAD.pack(len(head), size), head, *blobs])


def reply_for(done: Rendered | list[dict[str, Any]]) -> tuple[dict[str, Any], list[bytes]]:
    """The header and blobs that carry a render's result."""
    if isinstance(done, Rendered):
        sizes = [[digest, len(body)] for digest, body in done.bodies.items()]
        header = {
            "kind": "rendered",
            "objects": done.objects,
            "renderer": done.renderer,
            "inputs": list(done.inputs),
            "sizes": sizes,
        }
        return header, list(done.bodies.values())
    return {"kind": "objects"}, [orjson.dumps(done)]


def error_reply(exc: render.RenderError, inputs: set[str] | None) -> dict[str, Any]:
    """The header that carries a render error and what the render had read."""
    return {
        "kind": "error",
        "message": exc.message,
        "file": exc.file,
        "line": exc.line,
        "inputs": None if inputs is None else sorted(inputs),
    }


def result_of(header: dict[str, Any], blob: bytes) -> Rendered | list[dict[str, Any]]:
    """The result a ``rendered`` or ``objects`` reply carries; ``RenderError`` for the others."""
    match header.get("kind"):
        case "rendered":
            bodies: dict[str, bytes] = {}
            offset = 0
            for digest, size in header["sizes"]:
                bodies[str(digest)] = blob[offset : offset + int(size)]
                offset += int(size)
            return Rendered(
                objects={str(k): str(v) for k, v in header["objects"].items()},
                bodies=bodies,
                renderer=str(header["renderer"]),
                inputs=tuple(str(p) for p in header["inputs"]),
            )
        case "objects":
            objects = orjson.loads(blob)
            if not isinstance(objects, list):
                raise WorkerDiedError("render worker sent a malformed result")
            return objects
        case "error":
            exc = render.RenderError(
                str(header["message"]), file=header.get("file"), line=header.get("line")
            )
            found = header.get("inputs")
            exc.inputs = None if found is None else frozenset(str(p) for p in found)
            raise exc
        case "limit":
            raise limit_error(str(header["limit"]), float(header.get("size") or 0))
        case other:
            raise WorkerDiedError(f"render worker sent an unknown reply {other!r}")


def limit_error(limit: str, size: float) -> RenderLimitError:
    """The error of a render stopped by its ``limit`` (``size`` in bytes or seconds)."""
    match limit:
        case "memory":
            text = f"render exceeded its memory limit ({size_text(int(size))} address space)"
        case "cpu":
            text = f"render exceeded its CPU limit ({math.ceil(size)}s of CPU time)"
        case "wall_clock":
            text = f"render exceeded its wall-clock limit ({size:g}s)"
        case "output":
            text = f"render output exceeded {size_text(int(size))}"
        case _:
            text = f"render exceeded its {limit} limit"
    return RenderLimitError(text, limit=limit)


def size_text(size: int) -> str:
    """``1 GiB``, ``256 MiB``, ``64 KiB`` or ``N bytes``: sizes as people read them."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def mirror_error(exc: Exception) -> dict[str, Any]:
    """The header of a render that could not read the mirror (no file: not the app's fault)."""
    return {"kind": "error", "message": f"cannot read the mirror: {exc}", "file": None}


def limit_tree_cache() -> None:
    """Cap libgit2's cache of tree objects in this process at ``TREE_CACHE_LIMIT`` bytes."""
    pygit2.settings.cache_object_limit(pygit2.enums.ObjectType.TREE, TREE_CACHE_LIMIT)
