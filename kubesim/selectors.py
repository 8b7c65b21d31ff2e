"""Label and field selectors: parsing (400 on error) and matching (KUBE_API.md §2.4).

The label grammar follows apimachinery's ``labels.Parse`` (``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a)``, ``k``, ``!k``, ``k>1``, ``k<1``; comma is AND); the field
grammar follows ``fields.ParseSelector`` (``=``, ``==``, ``!=``, comma is AND, backslash
escapes). Which field labels a resource supports is the caller's knowledge (descriptors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubesim import status

JSON = dict[str, Any]

_SPECIAL = "=!(),<>"
_TOKENS = {
    "!": "not",
    "!=": "!=",
    "(": "(",
    ")": ")",
    ",": ",",
    "=": "=",
    "==": "==",
    ">": ">",
    "<": "<",
    "in": "in",
    "notin": "notin",
}
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement: key, operator and values."""

    key: str
    op: str  # exists, !exists, =, !=, in, notin, >, <
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a label map satisfies this requirement."""
        present = self.key in labels
        value = labels.get(self.key)
        match self.op:
            case "exists":
                return present
            case "!exists":
                return not present
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case ">" | "<":
                return present and _compare(value, self.op, self.values[0])
        return False


def _compare(value: str | None, op: str, bound: str) -> bool:
    try:
        v = int(value or "")
    except ValueError:
        return False
    return v > int(bound) if op == ">" else v < int(bound)


LabelSelector = tuple[Requirement, ...]


def _lex(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _SPECIAL:
            j = i + 1
            best = _TOKENS.get(ch)
            end = i + 1
            while j < len(text) and text[j] in _SPECIAL:
                j += 1
                if text[i:j] in _TOKENS:
                    best, end = _TOKENS[text[i:j]], j
                else:
                    break
            if best is None:
                raise ValueError(f"error expected: keyword found '{text[i:j]}'")
            out.append((best, text[i:end]))
            i = end
            continue
        j = i
        while j < len(text) and not text[j].isspace() and text[j] not in _SPECIAL:
            j += 1
        word = text[i:j]
        out.append((_TOKENS.get(word, "id") if word in ("in", "notin") else "id", word))
        i = j
    out.append(("end", ""))
    return out


def parse_labels(text: str) -> LabelSelector:
    """Parse a labelSelector; raises 400 BadRequest with the parser's message."""
    try:
        return tuple(_Parser(_lex(text)).parse())
    except ValueError as exc:
        raise status.bad_request(f"unable to parse requirement: {exc}") from None


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.tokens[self.pos]
        return ("id", lit) if values and tok in ("in", "notin") else (tok, lit)

    def take(self, values: bool = True) -> tuple[str, str]:
        out = self.peek(values)
        self.pos += 1
        return out

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok == "end":
                return reqs
            if tok not in ("id", "not"):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            reqs.append(self.requirement())
            tok, lit = self.take()
            if tok == "end":
                return reqs
            if tok != ",":
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            tok2, lit2 = self.peek()
            if tok2 not in ("id", "not"):
                raise ValueError(f"found '{lit2}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        negate = False
        tok, key = self.take()
        if tok == "not":
            negate = True
            tok, key = self.take()
        if tok != "id":
            raise ValueError(f"found '{key}', expected: identifier")
        _check_key(key)
        if self.peek()[0] in ("end", ","):
            return Requirement(key, "!exists" if negate else "exists")
        tok, lit = self.take(values=False)
        ops = {"in": "in", "notin": "notin", "=": "=", "==": "=", "!=": "!=", ">": ">", "<": "<"}
        if tok not in ops:
            raise ValueError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        op = ops[tok]
        values = self.set_values() if op in ("in", "notin") else self.exact_value()
        for value in values:
            _check_value(key, value)
        if op in (">", "<") and not re.fullmatch(r"-?\d+", values[0]):
            raise ValueError(
                f"values[0]: Invalid value: \"{values[0]}\": for 'Gt', 'Lt' operators, "
                "the value must be an integer"
            )
        return Requirement(key, op, values)

    def exact_value(self) -> tuple[str, ...]:
        tok, lit = self.peek()
        if tok in ("end", ","):
            return ("",)
        tok, lit = self.take()
        if tok != "id":
            raise ValueError(f"found '{lit}', expected: identifier")
        return (lit,)

    def set_values(self) -> tuple[str, ...]:
        tok, lit = self.take()
        if tok != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        values: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == ")":
                return tuple(sorted(values)) or ("",)
            if tok == "id":
                values.add(lit)
                nxt, nlit = self.peek()
                if nxt not in (",", ")"):
                    raise ValueError(f"found '{nlit}', expected: ',' or ')'")
            elif tok == ",":
                values.add("") if self.peek()[0] in (",", ")") or not values else None
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix))) or (
        not _NAME.match(name) or len(name) > 63
    ):
        raise ValueError(f'key: Invalid value: "{key}": {_NAME_MSG}')


def _check_value(key: str, value: str) -> None:
    if value and (len(value) > 63 or not _NAME.match(value)):
        raise ValueError(f'values[0][{key}]: Invalid value: "{value}": {_VALUE_MSG}')


def labels_match(selector: LabelSelector, obj: JSON) -> bool:
    """Whether ``obj``'s labels satisfy every requirement."""
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(req.matches(labels) for req in selector)


# Field selectors -----------------------------------------------------------------------

FieldSelector = tuple[tuple[str, str, str], ...]  # (field, op "=" or "!=", value)


def parse_fields(text: str) -> FieldSelector:
    """Parse a fieldSelector; raises 400 BadRequest for a term with no operator."""
    out: list[tuple[str, str, str]] = []
    for part in _split_unescaped(text, ","):
        if not part:
            continue
        for op in ("!=", "==", "="):
            idx = _find_unescaped(part, op)
            if idx >= 0:
                field_, value = part[:idx], part[idx + len(op) :]
                out.append((field_, "!=" if op == "!=" else "=", _unescape(value)))
                break
        else:
            raise status.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
    return tuple(out)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if text[i] == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(text[i])
        i += 1
    parts.append("".join(cur))
    return parts


def _find_unescaped(text: str, op: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(op, i):
            return i
        i += 1
    return -1


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def check_fields(selector: FieldSelector, supported: set[str]) -> None:
    """400 ``field label not supported: X`` for a field the resource cannot select on."""
    for field_, _, _ in selector:
        if field_ not in supported:
            raise status.bad_request(f"field label not supported: {field_}")


def field_value(obj: JSON, path: str) -> str:
    """The string form of a dotted field of ``obj`` (absent reads as empty)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(selector: FieldSelector, obj: JSON) -> bool:
    """Whether ``obj`` satisfies every field term."""
    for field_, op, value in selector:
        actual = field_value(obj, field_)
        if (actual == value) != (op == "="):
            return False
    return True


def required_value(selector: FieldSelector, field_: str) -> str | None:
    """The value an ``=`` term pins ``field_`` to, if any (used to narrow scans)."""
    for f, op, value in selector:
        if f == field_ and op == "=":
            return value
    return None
