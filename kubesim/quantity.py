"""Resource quantities as kube-apiserver stores and returns them (``resource.Quantity``).

The job: ``canonical(text)`` is the string a real server sends back for a quantity a
client wrote, following apimachinery's ``ParseQuantity`` then ``MarshalJSON``: ``0.5`` ->
``500m``, ``1024Mi`` -> ``1Gi``, ``1000`` -> ``1k``, ``1.5Gi`` -> ``1536Mi``, numbers
become strings, fractions beyond nano are rounded up (away from zero), and a string
that is already canonical by ``ParseQuantity``'s cheap test is kept as written (so
``+1`` and ``01`` come back unchanged, as they do from a real server). Invalid input
raises ``QuantityError`` with apimachinery's message.

Pure and exact (integers and ``Fraction``, never floats). Which fields hold quantities
is the schema's business (``conversion``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
NUMERIC = "unable to parse numeric part of quantity"
SUFFIX = "unable to parse quantity's suffix"

_DEC_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15}
_DEC_SUFFIXES["E"] = 18
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC_BY_EXPONENT = {e: s for s, e in _DEC_SUFFIXES.items()}
_BIN_BY_EXPONENT = {e: s for s, e in _BIN_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_MAX_INT64 = (1 << 63) - 1
_NANO = 10**9

_DECIMAL_SI = "DecimalSI"
_BINARY_SI = "BinarySI"
_DECIMAL_EXPONENT = "DecimalExponent"


class QuantityError(ValueError):
    """The text is not a quantity (the message is apimachinery's)."""


def canonical(value: Any) -> str:
    """The quantity ``value`` (a JSON string or number) as the server serializes it."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(FORMAT_WRONG)
    text = value.strip() if isinstance(value, str) else repr(value)
    if not text:
        raise QuantityError(FORMAT_WRONG)
    if text == "0":
        return "0"
    nanos, fmt, cached = _parse(text)
    if nanos == 0:
        return "0"
    if cached:
        return text
    return _format(nanos, fmt)


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """parseQuantityString: sign, the number text, numerator, denominator digits, suffix."""
    positive = True
    pos, end = 0, len(text)
    if text[:1] in ("-", "+"):
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    number = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in ("-", "+"):
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, number, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix; QuantityError when it is not one."""
    if suffix in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suffix], _DECIMAL_SI
    if suffix in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suffix], _BINARY_SI
    if len(suffix) > 1 and suffix[0] in ("e", "E"):
        try:
            return 10, int(suffix[1:], 10), _DECIMAL_EXPONENT
        except ValueError:
            pass
    raise QuantityError(SUFFIX)


def _parse(text: str) -> tuple[int, str, bool]:
    """ParseQuantity: the value in nano units, its format, and whether ``text`` is kept."""
    positive, number, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    sign = 1 if positive else -1
    fast = _fast_path(num, denom, base=base, exponent=exponent, fmt=fmt)
    if fast is not None:
        shifted, scale = fast
        nanos = sign * int(shifted) * (2**exponent if base == 2 else 1) * 10 ** (scale + 9)
        if fmt == _BINARY_SI:
            cached = exponent % 10 == 0 and int(shifted) & 0x07 != 0
        else:
            cached = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
        return nanos, fmt, cached
    digits = number.lstrip("+-")
    try:
        amount = Fraction(digits) if digits not in ("", ".") else Fraction(0)
    except ValueError:
        raise QuantityError(NUMERIC) from None
    amount *= Fraction(base) ** exponent
    scaled = amount * _NANO
    nanos = -((-scaled.numerator) // scaled.denominator)  # round up (away from zero)
    if fmt == _BINARY_SI:
        nanos = min(nanos, _MAX_INT64 * _NANO)
        if 0 < nanos < _NANO:
            fmt = _DECIMAL_SI
    return sign * nanos, fmt, False


def _fast_path(
    num: str, denom: str, *, base: int, exponent: int, fmt: str
) -> tuple[str, int] | None:
    """The int64 path of ParseQuantity: (shifted digits, decimal scale), or None."""
    if fmt == _BINARY_SI:
        if exponent < 0 or denom:
            return None
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        precision = 18 - len(num) - len(denom)
        scale = exponent
    if precision < 0:
        return None
    scale -= len(denom)
    if scale < -9:
        return None
    shifted = num + denom
    value = int(shifted)
    if base == 2 and value * (1 << exponent) > _MAX_INT64:
        return None
    return shifted, scale


def _format(nanos: int, fmt: str) -> str:
    """CanonicalizeBytes: the shortest exact form in the quantity's format."""
    if fmt == _BINARY_SI:
        if -1024 * _NANO < nanos < 1024 * _NANO or nanos % _NANO:
            fmt = _DECIMAL_SI
        else:
            amount, power = nanos // _NANO, 0
            while amount % 1024 == 0:
                amount //= 1024
                power += 10
            return f"{amount}{_BIN_BY_EXPONENT.get(power, '')}"
    mantissa, exponent = nanos, -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    if fmt == _DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    # A DecimalSI exponent past the table gets no suffix at all, as in apimachinery.
    return f"{mantissa}{_DEC_BY_EXPONENT.get(exponent, '')}"
