"""Quantity canonical form, against apimachinery's own expectations.

Pairs come from ``k8s.io/apimachinery/pkg/api/resource/quantity_test.go``
(``TestQuantityString``'s alternates, ``TestQuantityParseEmit``, ``TestJSONWhitespace``,
the rounding rows of ``TestQuantityParse``) and the parse rules of ``quantity.go``.
"""

from __future__ import annotations

import pytest

from kubesim import quantity

# Written form -> what the server sends back.
PAIRS = [
    ("1024Mi", "1Gi"),
    ("307200Ki", "300Mi"),
    ("1025024Mi", "1001Gi"),
    ("1024Gi", "1Ti"),
    ("5000m", "5"),
    ("0.5", "500m"),
    ("1000M", "1G"),
    ("0.001T", "1G"),
    ("1000u", "1m"),
    ("1.08", "1080m"),
    ("1080000000n", "1080m"),
    (".001e12", "1e9"),
    ("0.001e0", "1e-3"),
    ("1000e-12", "1e-9"),
    ("00", "0"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("-1024Mi", "-1Gi"),
    ("-.001Ki", "-1024m"),
    ("3.001n", "4n"),
    ("1.1E-9", "2e-9"),
    ("0.00000012345", "124n"),
    ("9Ei", "9223372036854775807"),
    ("1000", "1k"),
    ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"),
    ("0.5Ki", "512"),
    ("2000m", "2"),
    (" 1", "1"),
    ("1 ", "1"),
    (1, "1"),
    (-1, "-1"),
    (0.5, "500m"),
    (2.0, "2"),
]

# Canonical strings are kept exactly as written (ParseQuantity caches them).
KEPT = "1Gi 300Mi 6Ki 1001Gi 1Ti 5 500m 1G 1m 80m 1080m 300M 1T 1234567M 3k 1025 0 1e9 1e-3"
KEPT += " 1e-9 80e-3 300e6 1e12 1e3 3e3 1n 80n 1080n 1u 80u 1080u +1 -1Gi"


@pytest.mark.parametrize(("written", "returned"), PAIRS)
def test_written_quantities_come_back_canonical(written: object, returned: str) -> None:
    """Each written form serializes as apimachinery's MarshalJSON does."""
    assert quantity.canonical(written) == returned


@pytest.mark.parametrize("written", KEPT.split())
def test_canonical_strings_are_kept(written: str) -> None:
    """A string already in canonical form is sent back unchanged."""
    assert quantity.canonical(written) == written


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("1.1.M", quantity.FORMAT_WRONG),
        ("1+1.0M", quantity.FORMAT_WRONG),
        ("aoeu", quantity.FORMAT_WRONG),
        ("", quantity.FORMAT_WRONG),
        (True, quantity.FORMAT_WRONG),
        ("0.1mi", quantity.SUFFIX),
        (".5i", quantity.SUFFIX),
        ("-3.01e-", quantity.SUFFIX),
    ],
)
def test_invalid_quantities_are_refused(written: object, message: str) -> None:
    """What ParseQuantity refuses raises QuantityError with apimachinery's message."""
    with pytest.raises(quantity.QuantityError) as info:
        quantity.canonical(written)
    assert str(info.value) == message
