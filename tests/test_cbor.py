"""The strict deterministic CBOR reader (``_cbor.loads``) and writer (``_cbor.dumps``).

A signed format needs exactly one byte representation per value: ``loads`` must accept
the deterministic encoding (RFC 8949 section 4.2.1) of every value in our profile and
raise MalformedCredential for every other input, whatever it is. Vectors come from
``tests/vectors/cbor`` (see ``tests/vectors/SOURCES``); the cases they lack
(duplicate and unsorted keys, bad UTF-8, non-shortest heads ...) are written here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import cbor2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cityid_card import IssuerKey, MalformedCredential, TrustStore, _cbor, verify

from .conftest import NOW, load_vector_json, sample_credential

# ---------------------------------------------------------------------------------------
# Helpers

INT_MIN = -(2**64)
INT_MAX = 2**64 - 1


def _in_profile(value: Any) -> bool:
    """True if ``value`` is in the data model we accept (no floats, tags, simple values)."""
    if value is None or isinstance(value, (bool, bytes, str)):
        return True
    if isinstance(value, int):
        return INT_MIN <= value <= INT_MAX
    if isinstance(value, list):
        return all(_in_profile(item) for item in value)
    if isinstance(value, dict):
        return all(_in_profile(k) and _in_profile(v) for k, v in value.items())
    return False


def _typed(value: Any) -> Any:
    """A comparable form that tells 1 from True and 0 from False (Python's == does not)."""
    if isinstance(value, list):
        return ("array", [_typed(item) for item in value])
    if isinstance(value, dict):
        return ("map", {_typed(k): _typed(v) for k, v in value.items()})
    return (type(value).__name__, value)


def _depth(value: Any) -> int:
    """Nesting depth in the sense of MAX_DEPTH: a scalar is 0, ``[]`` is 1, ``[[]]`` is 2."""
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


def _hex_list(text: str) -> list[bytes]:
    return [bytes.fromhex(item) for item in text.split()]


def _maps(value: Any) -> Iterator[dict[Any, Any]]:
    if isinstance(value, list):
        for item in value:
            yield from _maps(item)
    elif isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _maps(item)


def _length_first_order_is_bytewise(value: Any) -> bool:
    """True if cbor2's canonical map order (length first, RFC 7049) is also ours (bytewise)."""
    for mapping in _maps(value):
        keys = [cbor2.dumps(k) for k in mapping]
        if sorted(keys) != sorted(keys, key=lambda e: (len(e), e)):
            return False
    return True


# ---------------------------------------------------------------------------------------
# Darkyenus/cbor-test-vectors: every case in the file

CBOR_VECTORS: list[dict[str, Any]] = load_vector_json("cbor/rfc8949_vectors_darkyenus.json")

#: Known quirk (README): flagged "canonical" although Infinity's shortest form is f97c00.
#: It is a float, so it is outside the profile either way; it is simply not counted as
#: canonical here.
FALSE_CANONICAL = frozenset({"fa7f800000"})


def _case_id(index: int, case: dict[str, Any]) -> str:
    hex_ = case["hex"].lower()
    return f"{index:03d}-{hex_[:24]}{'...' if len(hex_) > 24 else ''}"


def _params(cases: list[tuple[int, dict[str, Any]]]) -> list[Any]:
    return [pytest.param(bytes.fromhex(c["hex"]), id=_case_id(i, c)) for i, c in cases]


def _is_in_profile_canonical(case: dict[str, Any]) -> bool:
    flags = case["flags"]
    if "canonical" not in flags or "float" in flags or case["hex"].lower() in FALSE_CANONICAL:
        return False
    # Tags and bignums decode in cbor2 to datetimes, CBORTag or ints beyond 64 bits.
    return _in_profile(cbor2.loads(bytes.fromhex(case["hex"])))


_INVALID = [(i, c) for i, c in enumerate(CBOR_VECTORS) if "invalid" in c["flags"]]
_VALID = [(i, c) for i, c in enumerate(CBOR_VECTORS) if "valid" in c["flags"]]
_IN_PROFILE = [(i, c) for i, c in _VALID if _is_in_profile_canonical(c)]
_OUT_OF_PROFILE = [(i, c) for i, c in _VALID if not _is_in_profile_canonical(c)]


def test_vector_file_is_complete() -> None:
    # The counts from tests/vectors/SOURCES: a truncated file must not pass quietly.
    assert len(CBOR_VECTORS) == 778
    assert len(_INVALID) == 693
    assert len(_VALID) == 85
    assert sum("canonical" in c["flags"] for _, c in _VALID) == 69
    # ints (incl. +-2**64 edges), false/true/null, strings, arrays and maps.
    assert len(_IN_PROFILE) == 38


def test_false_canonical_quirk_is_still_there() -> None:
    # If the file is ever corrected, FALSE_CANONICAL can go.
    (case,) = [c for c in CBOR_VECTORS if c["hex"].lower() in FALSE_CANONICAL]
    assert "canonical" in case["flags"]
    assert cbor2.dumps(float("inf"), canonical=True) == bytes.fromhex("f97c00")


@pytest.fixture(scope="module")
def vector_trust() -> TrustStore:
    return TrustStore([IssuerKey.generate("ES256", kid="cbor-vectors").public()])


@pytest.mark.parametrize("data", _params(_INVALID))
def test_invalid_vector_is_malformed(data: bytes) -> None:
    # Only MalformedCredential: an IndexError, RecursionError ... would fail the test.
    with pytest.raises(MalformedCredential):
        _cbor.loads(data)


@pytest.mark.parametrize("data", _params(_INVALID))
def test_invalid_vector_is_not_a_credential(data: bytes, vector_trust: TrustStore) -> None:
    with pytest.raises(MalformedCredential):
        verify(data, vector_trust, now=NOW)


@pytest.mark.parametrize("data", _params(_IN_PROFILE))
def test_canonical_vector_in_profile_round_trips(data: bytes) -> None:
    value = _cbor.loads(data)
    assert _typed(value) == _typed(cbor2.loads(data))
    assert _cbor.dumps(value) == data


@pytest.mark.parametrize("data", _params(_OUT_OF_PROFILE))
def test_valid_vector_outside_profile_is_malformed(data: bytes) -> None:
    # Floats, tags (incl. bignums), undefined, simple values and non-canonical forms.
    with pytest.raises(MalformedCredential):
        _cbor.loads(data)


# ---------------------------------------------------------------------------------------
# Hand-written cases


def _hex_params(cases: dict[str, str]) -> list[Any]:
    return [pytest.param(bytes.fromhex(h.replace(" ", "")), id=name) for name, h in cases.items()]


MAP_KEY_CASES = {
    "dup-int-key": "a2 01 00 01 00",
    "dup-text-key": "a2 6161 00 6161 01",
    "dup-bytes-key": "a2 4100 00 4100 01",
    "dup-null-key": "a2 f6 00 f6 01",
    "dup-key-nested": "81 a2 01 01 01 02",
    "dup-key-three-entries": "a3 01 00 02 00 02 00",
    # Distinct CBOR keys that are the same Python dict key: 1 == True, 0 == False.
    "int-1-and-true-collide": "a2 01 0a f5 14",
    "int-0-and-false-collide": "a2 00 0a f4 14",
    "unsorted-int-keys": "a2 02 00 01 00",
    "unsorted-text-keys": "a2 6162 00 6161 00",
    # cbor2's canonical (length-first) order puts -1 (0x20) before 24 (0x1818); ours does not.
    "length-first-order-minus1-before-24": "a2 20 00 1818 00",
    "unsorted-neg-before-pos": "a2 20 00 00 00",
    "unsorted-text-before-int": "a2 6161 00 01 00",
    "unsorted-text-before-bytes": "a2 60 00 40 00",
    "unsorted-long-text-first": "a2 626161 00 6162 00",
    "key-array": "a1 80 00",
    "key-array-nonempty": "a1 81 00 00",
    "key-map": "a1 a0 00",
    "key-array-second": "a2 00 00 8100 00",
    "value-missing": "a1 00",
    "value-missing-second": "a2 00 00 01",
}


def test_map_keys_sort_bytewise() -> None:
    # RFC 8949 4.2.1: bytewise order of the encoded keys, so 24 (0x1818) before -1 (0x20),
    # bytes (0x4.) before text (0x6.), "b" (0x6162) before "aa" (0x626161).
    value = {-1: 0, 24: 0, "aa": 0, "b": 0, b"\x00": 0, 0: 0}
    data = _cbor.dumps(value)
    assert data == bytes.fromhex(
        "a6 00 00 1818 00 20 00 4100 00 6162 00 626161 00".replace(" ", "")
    )
    assert _typed(_cbor.loads(data)) == _typed(value)


def _head(major: int, width: int, argument: int) -> bytes:
    info = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | info]) + argument.to_bytes(width, "big")


def _content(major: int, count: int) -> bytes:
    """What follows a head of ``major`` with argument ``count`` to make a complete item."""
    if major == 2:
        return b"\x00" * count
    if major == 3:
        return b"a" * count
    if major == 4:
        return b"\x00" * count
    if major == 5:
        return b"".join(_cbor.dumps(k) + b"\x00" for k in range(count))
    return b""


def _non_shortest_cases() -> list[Any]:
    """Every major type 0-5 at every head width with an argument that fits a shorter head."""
    cases = []
    names = {0: "uint", 1: "nint", 2: "bytes-len", 3: "text-len", 4: "array-len", 5: "map-len"}
    for width, smaller in ((1, (0, 5, 23)), (2, (0, 23, 24, 255)), (4, (0, 255, 256, 65535))):
        for major in range(6):
            for argument in smaller:
                data = _head(major, width, argument) + _content(major, argument)
                cases.append(pytest.param(data, id=f"{names[major]}-w{width}-{argument}"))
    for argument in (0, 24, 65535, 65536, 2**32 - 1):
        for major in (0, 1):
            cases.append(
                pytest.param(_head(major, 8, argument), id=f"{names[major]}-w8-{argument}")
            )
        for major in (2, 3, 4, 5):
            if argument <= 24:
                data = _head(major, 8, argument) + _content(major, argument)
                cases.append(pytest.param(data, id=f"{names[major]}-w8-{argument}"))
    return cases


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        pytest.param(23, "17", id="23"),
        pytest.param(24, "1818", id="24"),
        pytest.param(255, "18ff", id="255"),
        pytest.param(256, "190100", id="256"),
        pytest.param(65535, "19ffff", id="65535"),
        pytest.param(65536, "1a00010000", id="65536"),
        pytest.param(2**32 - 1, "1affffffff", id="2**32-1"),
        pytest.param(2**32, "1b0000000100000000", id="2**32"),
        pytest.param(INT_MAX, "1bffffffffffffffff", id="2**64-1"),
        pytest.param(-24, "37", id="-24"),
        pytest.param(-25, "3818", id="-25"),
        pytest.param(-257, "390100", id="-257"),
        pytest.param(INT_MIN, "3bffffffffffffffff", id="-2**64"),
        pytest.param(b"\x00" * 24, "5818" + "00" * 24, id="bytes-24"),
        pytest.param("a" * 256, "790100" + "61" * 256, id="text-256"),
        pytest.param([0] * 24, "9818" + "00" * 24, id="array-24"),
        pytest.param(
            dict.fromkeys(range(24), 0),
            "b818" + "".join(f"{_cbor.dumps(k).hex()}00" for k in range(24)),
            id="map-24",
        ),
    ],
)
def test_shortest_head_at_each_boundary(value: Any, encoded: str) -> None:
    # The counterpart of the non-shortest cases: the shortest form at each width is accepted.
    data = bytes.fromhex(encoded)
    assert _cbor.dumps(value) == data
    assert _typed(_cbor.loads(data)) == _typed(value)


INDEFINITE_AND_RESERVED_CASES = {
    "indef-bytes-empty": "5f ff",
    "indef-bytes": "5f 4100 ff",
    "indef-text-empty": "7f ff",
    "indef-text": "7f 6161 ff",
    "indef-array-empty": "9f ff",
    "indef-array": "9f 01 02 ff",
    "indef-array-nested": "81 9f ff",
    "indef-map-empty": "bf ff",
    "indef-map": "bf 01 00 ff",
    "indef-map-value": "a1 01 9f ff",
    "lone-break": "ff",
    "break-in-array": "82 00 ff",
    "uint-info-31": "1f",
    "nint-info-31": "3f",
    "tag-info-31": "df",
    "uint-reserved-28": "1c",
    "nint-reserved-29": "3d",
    "bytes-reserved-30": "5e",
    "text-reserved-28": "7c",
    "array-reserved-29": "9d",
    "map-reserved-30": "be",
    "tag-reserved-28": "dc 00",
    "simple-reserved-28": "fc",
}


BAD_UTF8_CASES = {
    "overlong-nul-2": "62 c080",
    "overlong-slash-2": "62 c0af",
    "overlong-c1": "62 c1bf",
    "overlong-3": "63 e08080",
    "overlong-3-max": "63 e09fbf",
    "overlong-4": "64 f0808080",
    "overlong-4-max": "64 f08fbfbf",
    "surrogate-high": "63 eda080",
    "surrogate-low": "63 edbfbf",
    "surrogate-pair-cesu8": "66 eda0bd edb2a9",
    "above-10ffff": "64 f4908080",
    "five-byte-form": "65 f888808080",
    "six-byte-form": "66 fc8480808080",
    "lone-continuation": "61 80",
    "byte-fe": "61 fe",
    "byte-ff": "61 ff",
    "truncated-2": "61 c3",
    "truncated-3-of-3": "62 e6b0",
    "truncated-4-of-4": "63 f09085",
    "truncated-before-ascii": "62 c361",
    "truncated-at-string-end": "64 61 62 63 e2",
    "bad-in-map-key": "a1 61 80 00",
    "bad-in-array": "82 6161 61 ff",
}


@pytest.mark.parametrize(
    "text",
    [
        "\x00",
        "\x7f",
        "\u0080",
        "\u07ff",
        "\u0800",
        "\ud7ff",
        "\ue000",
        "\uffff",
        "\U00010000",
        "\U0010ffff",
    ],
    ids=lambda t: f"U+{ord(t):04X}",
)
def test_utf8_boundaries_decode(text: str) -> None:
    # The counterpart of the bad UTF-8 cases: the edges of the valid ranges are accepted.
    data = _cbor.dumps(text)
    assert _cbor.loads(data) == text


NOT_IN_PROFILE_CASES = {
    "tag-0-datetime": "c0 74 323031332d30332d32315432303a30343a30305a",
    "tag-1-epoch": "c1 00",
    "tag-2-bignum-small": "c2 41 01",
    "tag-3-bignum": "c3 49 010000000000000000",
    "tag-18-cose-sign1": "d2 84 43a10126 a0 40 40",
    "tag-18-empty": "d2 80",
    "tag-23": "d7 4401020304",
    "tag-24-1byte": "d818 00",
    "tag-61-cwt": "d83d 00",
    "tag-55799-self-describe": "d9d9f7 00",
    "tag-4-byte": "da00010000 00",
    "tag-8-byte": "db0000000100000000 00",
    "tag-non-shortest": "d812 00",
    "tag-in-array": "81 c1 00",
    "tag-as-map-value": "a1 01 c1 00",
    "tag-as-map-key": "a1 c1 00 00",
    "tag-without-content": "d2",
    "float16-zero": "f9 0000",
    "float16-one": "f9 3c00",
    "float16-inf": "f9 7c00",
    "float16-nan": "f9 7e00",
    "float32": "fa 47c35000",
    "float32-integral": "fa 3f800000",
    "float64": "fb 3ff199999999999a",
    "float64-integral": "fb 3ff0000000000000",
    "float-in-array": "81 f9 3c00",
    "float-as-map-key": "a1 f9 3c00 00",
    "undefined": "f7",
    "undefined-in-array": "81 f7",
    "simple-0": "e0",
    "simple-16": "f0",
    "simple-19": "f3",
    "simple-32": "f8 20",
    "simple-255": "f8 ff",
    "simple-false-two-bytes": "f8 14",
    "simple-null-two-bytes": "f8 16",
    "simple-24-two-bytes": "f8 18",
}


TRAILING_CASES = {
    "int-then-int": "00 00",
    "array-then-byte": "80 00",
    "map-then-break": "a0 ff",
    "null-then-byte": "f6 00",
    "string-then-byte": "6161 61",
    "two-arrays": "8100 8100",
    "padding-nul": "83010203 00",
}


def test_trailing_byte_after_credential_is_malformed() -> None:
    key = IssuerKey.generate("EdDSA", kid="trailing")
    blob = key.issue(sample_credential())
    verify(blob, TrustStore([key.public()]), now=NOW)
    with pytest.raises(MalformedCredential):
        verify(blob + b"\x00", TrustStore([key.public()]), now=NOW)


# Each must fail on the lengths alone, without allocating 2**64 items (that would be a
# MemoryError or a hang, not MalformedCredential).
LENGTH_LIE_CASES = {
    "array-2**64-1": "9b ffffffffffffffff",
    "array-2**32-1": "9a ffffffff",
    "array-65535": "99 ffff 00",
    "array-2-of-1": "82 00",
    "map-2**64-1": "bb ffffffffffffffff",
    "map-2**32-1-with-pair": "ba ffffffff 00 00",
    "map-2-of-1": "a2 00 00",
    "bytes-2**64-1": "5b ffffffffffffffff",
    "bytes-2**32-1": "5a ffffffff 00",
    "text-2**64-1": "7b ffffffffffffffff",
    "text-5-of-4": "65 61626364",
    "bytes-1-of-0": "41",
    "nested-lie": "81 9b ffffffffffffffff",
    "map-key-lie": "a1 7b ffffffffffffffff",
    "head-cut-1": "18",
    "head-cut-2": "19 00",
    "head-cut-4": "1a 000000",
    "head-cut-8": "1b 00000000000000",
    "empty": "",
}


HAND_WRITTEN_MALFORMED = [
    *_hex_params(MAP_KEY_CASES),
    *_non_shortest_cases(),
    *_hex_params(INDEFINITE_AND_RESERVED_CASES),
    *_hex_params(BAD_UTF8_CASES),
    *_hex_params(NOT_IN_PROFILE_CASES),
    *_hex_params(TRAILING_CASES),
    *_hex_params(LENGTH_LIE_CASES),
]


@pytest.mark.parametrize("data", HAND_WRITTEN_MALFORMED)
def test_hand_written_case_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedCredential):
        _cbor.loads(data)


def _truncation_samples() -> list[Any]:
    key = IssuerKey.generate("ES256", kid="truncation")
    value = [
        0,
        23,
        24,
        256,
        65536,
        2**32,
        -1,
        -25,
        INT_MIN,
        b"",
        b"\x01" * 24,
        "",
        "\u00fc\u6c34\U00010151" * 3,
        [[], {}],
        {1: [True, False, None], "k": {b"b": "v"}},
    ]
    return [
        pytest.param(_cbor.dumps(value), id="every-head-width"),
        pytest.param(key.issue(sample_credential(gender="F")), id="credential"),
        pytest.param(_cbor.dumps({-1: "x" * 300, 24: b"y" * 70000}), id="long-strings"),
    ]


@pytest.mark.parametrize("data", _truncation_samples())
def test_every_truncation_is_malformed(data: bytes) -> None:
    _cbor.loads(data)  # the whole item is fine
    for end in range(len(data)):
        with pytest.raises(MalformedCredential):
            _cbor.loads(data[:end])


@pytest.mark.parametrize("opener", ["81", "a100"], ids=["array", "map"])
def test_nesting_up_to_max_depth(opener: str) -> None:
    head = bytes.fromhex(opener)
    _cbor.loads(head * _cbor.MAX_DEPTH + b"\x00")
    with pytest.raises(MalformedCredential):
        _cbor.loads(head * (_cbor.MAX_DEPTH + 1) + b"\x00")


@pytest.mark.parametrize(
    "opener",
    ["81", "a100", "9f", "bf", "d2", "c1", "5f", "8200"],
    ids=["array", "map", "indef-array", "indef-map", "tag-18", "tag-1", "indef-bytes", "array-2"],
)
def test_very_deep_nesting_is_malformed_not_recursion_error(opener: str) -> None:
    depth = 100_000
    assert depth > sys.getrecursionlimit()
    with pytest.raises(MalformedCredential):
        _cbor.loads(bytes.fromhex(opener) * depth + b"\x00")


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536, 70000])
def test_dumps_bytes_at_each_length_boundary(size: int) -> None:
    value = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert _cbor.dumps_bytes(value) == _cbor.dumps(value) == cbor2.dumps(value)


@given(st.binary(max_size=600))
def test_dumps_bytes_matches_dumps(value: bytes) -> None:
    assert _cbor.dumps_bytes(value) == _cbor.dumps(value)


def test_dumps_refuses_floats() -> None:
    with pytest.raises(TypeError):
        _cbor.dumps([1, {2: 1.5}])


# ---------------------------------------------------------------------------------------
# Properties

_ints = st.integers(min_value=INT_MIN, max_value=INT_MAX)
_scalars = st.one_of(st.none(), st.booleans(), _ints, st.binary(max_size=40), st.text(max_size=20))
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(_ints, st.text(max_size=8)), children, max_size=5),
    ),
    max_leaves=25,
).filter(lambda v: _depth(v) <= _cbor.MAX_DEPTH)


@given(_values)
@example({24: 0, -1: 1})
@example([INT_MIN, INT_MAX, True, 1, False, 0, None])
def test_round_trip(value: Any) -> None:
    data = _cbor.dumps(value)
    assert _typed(_cbor.loads(data)) == _typed(value)


@given(_values)
@example({24: 0, -1: 1})
@example({"aa": 0, "b": 1})
def test_dumps_matches_cbor2_canonical_where_the_orders_agree(value: Any) -> None:
    cbor2_canonical = cbor2.dumps(value, canonical=True)
    if _length_first_order_is_bytewise(value):
        assert _cbor.dumps(value) == cbor2_canonical
    else:
        # cbor2 sorts length-first (RFC 7049); that order is not deterministic CBOR of RFC 8949.
        with pytest.raises(MalformedCredential):
            _cbor.loads(cbor2_canonical)


# Fragments that make structured-looking garbage: heads of every kind, keys that collide
# in Python (1/true, 0/false), boundary lengths, breaks, tags and floats.
_TOKENS = _hex_list(
    "00 01 17 1818 1819 190100 20 37 3818 40 4100 60 6161 62c3bc 80 81 82 a0 a1 a2 "
    "f4 f5 f6 f7 ff 9f bf 5f 7f c1 d2 f93c00 f820 1c 18 19 1b 5b 9b 59 62 c3 ed a080"
)
# Complete items usable as map keys and values, already encoded.
_ENCODED_KEYS = _hex_list("00 01 20 1818 f4 f5 f6 40 4100 60 6161 80 a0")
_ENCODED_VALUES = _hex_list("00 01 f4 f5 f6 6161 80 8100 a0 a10000")


@st.composite
def _sorted_raw_maps(draw: st.DrawFn) -> bytes:
    """Maps whose encoded keys are distinct and in bytewise order: only the meaning can be wrong."""
    keys = sorted(draw(st.sets(st.sampled_from(_ENCODED_KEYS), max_size=6)))
    values = [draw(st.sampled_from(_ENCODED_VALUES)) for _ in keys]
    return bytes([0xA0 + len(keys)]) + b"".join(k + v for k, v in zip(keys, values, strict=True))


_garbage = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from(_TOKENS), max_size=12).map(b"".join),
    _sorted_raw_maps(),
)


def _mutated(value: Any, position: int, byte: int, action: int) -> bytes:
    data = bytearray(_cbor.dumps(value))
    position %= len(data) + 1
    if action == 0:
        data.insert(position, byte)
    elif action == 1 and position < len(data):
        del data[position]
    elif position < len(data):
        data[position] = byte
    return bytes(data)


_mutations = st.builds(
    _mutated, _values, st.integers(min_value=0), st.integers(0, 255), st.integers(0, 2)
)


@settings(max_examples=500)
@given(st.one_of(_garbage, _mutations))
@example(bytes.fromhex("a2010af514"))
@example(bytes.fromhex("a200f4f4f5"))
def test_any_bytes_decode_only_to_their_one_encoding(data: bytes) -> None:
    try:
        value = _cbor.loads(data)
    except MalformedCredential:
        return
    assert _cbor.dumps(value) == data
