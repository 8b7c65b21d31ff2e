"""Reading ``gitopsd.yaml`` under limits: what reaches the schema is small, UTF-8 and tame.

``read`` opens the path without blocking (a FIFO would otherwise hang the open), refuses
anything that is not a regular file (a directory, ``/dev/zero``, a FIFO, a socket) before
reading a byte, refuses a file over the size cap from its ``fstat`` size and never reads
more than the cap plus one byte (a file that grows while it is read is caught too), then
decodes it as UTF-8 naming the line and byte offset of the first bad byte.

``compose`` turns the text into a YAML node tree (kept for its line numbers) only after a
pass over libyaml's event stream has checked that the document nests no deeper than
``Limits.max_depth``, uses no more than ``Limits.max_aliases`` aliases and expands (with
aliases followed, as the schema walk will follow them) to at most ``Limits.max_nodes``
nodes: an alias bomb or a deeply nested file is refused in time proportional to its
size, before anything recurses. The schema itself is ``daemon.settings.schema``; this
module knows nothing of it. Every problem is a ``ConfigError`` saying ``FILE[:LINE]: what``.
(``shell.render.yamlsafe`` does the same for rendered manifests, but builds plain values
and lives in the shell, which imports settings; hence this small sibling.)
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import yaml

from daemon.errors import ConfigError

MiB = 1024 * 1024
MAX_BYTES_ENV = "GITOPSD_CONFIG_MAX_BYTES"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Caps on a configuration file; the defaults are the documented ones."""

    max_bytes: int = 4 * MiB
    max_depth: int = 64
    max_aliases: int = 10_000
    max_nodes: int = 500_000
    """Nodes the document may expand to once aliases are followed."""


DEFAULT_LIMITS = Limits()


def read(path: Path, *, max_bytes: int = DEFAULT_LIMITS.max_bytes) -> str:
    """The text of the regular file ``path``, at most ``max_bytes`` bytes of UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ConfigError([f"{path}: not a regular file ({_file_kind(info.st_mode)})"])
    with os.fdopen(fd, "rb") as file:
        if info.st_size > max_bytes:
            raise ConfigError([_too_big(path, f"{info.st_size} bytes", max_bytes)])
        try:
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    if len(data) > max_bytes:
        raise ConfigError([_too_big(path, "it grew while being read", max_bytes)])
    return decode(data, filename=str(path))


def size_cap(environ: Mapping[str, str]) -> int:
    """The size cap: ``$GITOPSD_CONFIG_MAX_BYTES`` when set (a positive integer), else 4 MiB."""
    text = environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_LIMITS.max_bytes
    if not text.isdigit() or int(text) == 0:
        raise ConfigError([f"${MAX_BYTES_ENV}: expected a positive number of bytes, got {text!r}"])
    return int(text)


def decode(data: bytes, *, filename: str) -> str:
    """``data`` as UTF-8; a bad byte is named with its line and offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start} ({exc.reason})"
        problem = f"{filename}:{line}: not UTF-8: {where}; save the file as UTF-8"
        raise ConfigError([problem]) from None


def compose(text: str, *, filename: str, limits: Limits = DEFAULT_LIMITS) -> yaml.Node | None:
    """The node tree of the single YAML document in ``text`` (None when it is empty)."""
    try:
        _check_events(text, filename=filename, limits=limits)
        return yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{filename}:{line}: invalid YAML: {problem}"]) from exc


def _check_events(text: str, *, filename: str, limits: Limits) -> None:
    """Walk the event stream counting depth, aliases and expanded nodes; refuse past a limit."""
    anchors: dict[str, int] = {}  # anchor -> nodes its value expands to
    open_sizes: list[int] = []  # expanded nodes so far in each open collection
    open_anchors: list[str | None] = []
    aliases = total = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_sizes) >= limits.max_depth:
                raise _refused(filename, line, f"nested deeper than {limits.max_depth} levels")
            open_sizes.append(1)
            open_anchors.append(event.anchor)
            total += 1
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            size, anchor = open_sizes.pop(), open_anchors.pop()
        elif isinstance(event, yaml.ScalarEvent):
            size, anchor = 1, event.anchor
            total += 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > limits.max_aliases:
                raise _refused(filename, line, f"more than {limits.max_aliases} aliases")
            size, anchor = anchors.get(event.anchor or "", 1), None
            total += size
        else:
            continue
        if anchor:
            anchors[anchor] = size
        if open_sizes:
            open_sizes[-1] += size
        if total > limits.max_nodes:
            raise _refused(
                filename, line, f"expands to more than {limits.max_nodes} nodes (an alias bomb?)"
            )


def _refused(filename: str, line: int, why: str) -> ConfigError:
    return ConfigError([f"{filename}:{line}: YAML {why}; refused"])


def _too_big(path: Path, size: str, max_bytes: int) -> str:
    return f"{path}: too large ({size}; the limit is {max_bytes} bytes, raised by ${MAX_BYTES_ENV})"


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")
