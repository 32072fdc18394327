"""Differential tests: the C engine and the pure-Python engine agree on every input.

Hypothesis generates valid credentials of every claim shape and mutations of them
(bit flips, truncations, byte insertions and deletions, fields spliced in from other
credentials, re-encodings with non-canonical heads), claims arrays re-signed with a
valid signature so that only the claims are wrong, and protected headers of every
kind, at moments of every kind a caller may pass (dates, naive and aware datetimes,
under both status policies). For each input both twins must return equal results, or
raise the same CredentialError subclass, one credential at a time and in batches; and
they must read the same day and second from any moment. Whatever this finds goes into
tests/test_engine.py as a regression case for both twins.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cityid_card import Credential, CredentialError, IssuerKey, _algorithms, _cbor
from cityid_card.credential import MAX_DATE, MIN_DATE
from cityid_card.status import CredentialStatus
from cityid_card.verifier import VerifiedCredential, _canonical_claims, _clock

from .conftest import engine_factory, native_module, signed_envelope, vector_generator

EPOCH = date(1970, 1, 1)
TODAY = (date(2027, 6, 1) - EPOCH).days
NOW_SECONDS = TODAY * 86400 + 43200

KEYS = {
    "ES256": vector_generator.seeded_key("ES256", "DIFF-ES256"),
    "EdDSA": vector_generator.seeded_key("EdDSA", "DIFF-EdDSA"),
    "ES256-2": vector_generator.seeded_key("ES256", "DIFF-ES256-2"),
}
ISSUED = (date(2026, 11, 21) - EPOCH).days


def _row(key: IssuerKey, wire_kid: bytes | None = None, **window: int) -> Any:
    public = key.public()
    return (
        _algorithms.COSE_ALGORITHM[key.alg],
        wire_kid or public.wire_kid,
        _algorithms.raw_public_bytes(public.key),
        window.get("valid_from"),
        window.get("valid_until"),
        f"{public.kid}-{len(window)}",
    )


#: Both algorithms; a second ES256 key that also answers to the first one's wire kid
#: (so two candidates are tried); issuing windows that some generated dates miss.
ROWS = [
    _row(KEYS["ES256-2"], KEYS["ES256"].public().wire_kid, valid_from=ISSUED - 400),
    _row(KEYS["ES256"], valid_from=ISSUED - 3000, valid_until=ISSUED + 3000),
    _row(KEYS["EdDSA"]),
    _row(KEYS["ES256-2"], valid_until=ISSUED),
]


@pytest.fixture(scope="module")
def engines() -> tuple[Any, Any]:
    native_module()  # skip (or fail in CI) with the import error when it is not built
    python, c = engine_factory("python")(ROWS), engine_factory("c")(ROWS)
    for engine in (python, c):
        engine.set_status_list(1, bytes(range(256)) * 4, 2, NOW_SECONDS + 3600)
        engine.set_status_list(2, b"\x55" * 100, 1, None)
    return python, c


def _described(result: VerifiedCredential | CredentialError) -> Any:
    """A result as plain values: equal values of the same types, set in the same order."""
    if isinstance(result, CredentialError):
        return type(result), str(result)
    credential = result.credential
    fields = [(name, type(value), value) for name, value in vars(credential).items()]
    return type(result), list(vars(result)), result.kid, result.alg, result.status, fields


def _outcome(engine: Any, blob: bytes, now: date) -> Any:
    try:
        return _described(engine.verify(blob, now))
    except CredentialError as error:
        return type(error)


FIRST_DAY, LAST_DAY = date.min.toordinal(), date.max.toordinal()


def _moments(today: int) -> list[tuple[date, bool]]:
    """Moments on day ``today`` (as near as Python's dates reach), each with a status
    policy (reject unknown?): list 1 expires at 13:00 UTC on TODAY."""
    day = date.fromordinal(min(max(EPOCH.toordinal() + today, FIRST_DAY), LAST_DAY))
    return [
        (datetime.combine(day, time(12)), False),  # naive: local wall time
        (datetime.combine(day, time(14, 0, 0, 1), UTC), True),
        (day, False),
        (datetime.combine(day, time(12, 59, 59), timezone(timedelta(hours=-5))), True),
    ]


def assert_agree(engines: tuple[Any, Any], blob: bytes, today: int = TODAY) -> None:
    python, c = engines
    for now, reject_unknown in _moments(today):
        python.reject_unknown = c.reject_unknown = reject_unknown
        expected = _outcome(python, blob, now)
        assert _outcome(c, blob, now) == expected, (blob.hex(), now)
    python.reject_unknown = c.reject_unknown = False
    event("outcome: " + (expected.__name__ if isinstance(expected, type) else "valid"))


# ---------------------------------------------------------------------------------------
# Strategies

#: Characters that matter to the text rules: white space as Python strips it, controls,
#: characters that are not in NFC or compose, blank-looking format characters.
SPECIAL = (
    [chr(c) for c in range(0x3001) if chr(c).isspace()]
    + ["\x00", "\x1f", "\x7f", "\x80", "\x9f", "\xa0", "\xad"]
    + ["\u0301", "\u0308", "\u0327", "\u0344", "\u212b", "\u2000", "\u1100", "\u1161", "\u11ab"]
    + ["\u200b", "\u180e", "\ufeff", "e", "A", "é", "한", "李", "\U0001f600", "\U0010ffff"]
)
texts = st.one_of(
    st.text(st.sampled_from(SPECIAL), min_size=0, max_size=8),
    st.text(min_size=0, max_size=40),
    st.text(st.characters(max_codepoint=0x7F), min_size=0, max_size=110),
    st.builds(lambda n, u: u * n, st.integers(0, 40), st.sampled_from(["a", "é", "李", "😀"])),
)
days = st.one_of(
    st.integers(-65536, 65535),
    st.sampled_from([-65537, -65536, 65535, 65536, 0, -1, ISSUED, TODAY, TODAY + 1]),
    st.integers(-(2**64), 2**64 - 1),
)
cbor_scalars = st.one_of(
    st.integers(-(2**64), 2**64 - 1),
    st.sampled_from([0, 1, 2, -1, 23, 24, 255, 256, 2**32 - 1, 2**32, True, False, None]),
    st.binary(max_size=40),
    texts,
)
cbor_values = st.recursive(
    cbor_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.integers(-3, 5), st.text(max_size=2)), inner, max_size=3),
    ),
    max_leaves=8,
)


def _point(scalar: int) -> bytes:
    public = ec.derive_private_key(scalar, ec.SECP256R1()).public_key()
    return public.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


POINTS = [_point(n) for n in (2, 3, 5, 7)]
extension_values = st.one_of(
    st.sampled_from(POINTS),
    st.binary(max_size=40),
    st.sampled_from([bytes(4), bytes(7), bytes(10), b"\x04" * 33, b"\x02" * 33, b"\x03" * 32]),
    cbor_scalars,
)
extensions = st.dictionaries(
    st.one_of(st.integers(0, 4), st.sampled_from([-1, True, "a", b"\x01"])),
    extension_values,
    max_size=4,
)


@st.composite
def claims_arrays(draw: st.DrawFn) -> list[Any]:
    """Claims arrays, mostly almost right, each position sometimes anything at all."""

    def maybe(good: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(good, cbor_values) if draw(st.integers(0, 9)) == 0 else good)

    claims = [
        maybe(st.sampled_from([1] * 12 + [2, 0, -1])),
        maybe(texts),
        maybe(days),
        maybe(days),
        maybe(days),
        maybe(st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([-1, 2**32]))),
    ]
    tail = draw(st.integers(0, 4))
    if tail >= 1:
        claims.append(maybe(st.one_of(st.none(), texts)))
    if tail >= 2:
        claims.append(maybe(extensions))
    if tail >= 3:
        claims.append(draw(cbor_values))
    if draw(st.integers(0, 5)) == 0:
        del claims[draw(st.integers(0, len(claims) - 1)) :]
    return claims


def _plausible_dates(draw: st.DrawFn) -> tuple[date, date, date]:
    ordinal = st.integers(MIN_DATE.toordinal(), MAX_DATE.toordinal()).map(date.fromordinal)
    near = st.integers(-4000, 4000).map(lambda d: date(2026, 11, 21) + timedelta(days=d))
    dob, issued, expires = sorted(draw(st.lists(st.one_of(ordinal, near), min_size=3, max_size=3)))
    return dob, issued, expires


def _valid_text(limit: int) -> st.SearchStrategy[str]:
    """Generated text made to pass the text rules (filtering would discard most)."""

    def repair(text: str) -> str:
        text = "".join(c for c in text if unicodedata.category(c) != "Cc")
        text = unicodedata.normalize("NFC", text).strip()
        while len(text.encode()) > limit:
            text = text[:-1].strip()
        return text if text and unicodedata.is_normalized("NFC", text) else "A"

    return texts.map(repair)


@st.composite
def credentials(draw: st.DrawFn) -> Credential:
    dob, issued, expires = _plausible_dates(draw)
    return Credential(
        name=draw(_valid_text(100)),
        date_of_birth=dob,
        issued=issued,
        expires=expires,
        status_index=draw(st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 2000))),
        gender=draw(st.none() | _valid_text(32)),
        card_key=draw(st.none() | st.sampled_from(POINTS)),
        tag_uid=draw(st.none() | st.sampled_from([bytes(4), bytes(range(7)), b"\xff" * 10])),
        pseudonym_key=draw(st.none() | st.sampled_from(POINTS)),
    )


keys = st.sampled_from(list(KEYS.values()))
todays = st.one_of(st.just(TODAY), days)


def _issue(key: IssuerKey, credential: Credential) -> bytes:
    return key.issue(credential, today=credential.issued)


# ---------------------------------------------------------------------------------------
# CBOR re-encoding


def _heads(data: bytes) -> list[tuple[int, int, int]]:
    """(position, major type, argument) of every head in well-formed CBOR `data`."""
    found: list[tuple[int, int, int]] = []
    position = 0
    pending = 1
    while pending and position < len(data):
        pending -= 1
        initial = data[position]
        major, info = initial >> 5, initial & 0x1F
        if major == 7 or info >= 28:
            position += 1
            continue
        size = 0 if info < 24 else 1 << (info - 24)
        argument = info if info < 24 else int.from_bytes(data[position + 1 : position + 1 + size])
        found.append((position, major, argument))
        position += 1 + size
        if major in (2, 3):
            position += argument
        elif major == 4:
            pending += argument
        elif major == 5:
            pending += 2 * argument
        elif major == 6:
            pending += 1
    return found


def _longer_head(data: bytes, position: int, major: int, argument: int, size: int) -> bytes:
    initial = data[position] & 0x1F
    old = 1 + (0 if initial < 24 else 1 << (initial - 24))
    if argument >= 1 << (8 * size):
        return data
    new = bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[size]]) + argument.to_bytes(size)
    return data[:position] + new + data[position + old :]


# ---------------------------------------------------------------------------------------
# The tests

#: CITYID_CARD_FUZZ_EXAMPLES=20000 for a long hunt; the default keeps the suite quick.
EXAMPLES = int(os.environ.get("CITYID_CARD_FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(key=keys, credential=credentials(), today=todays)
def test_valid_credentials(
    engines: tuple[Any, Any], key: IssuerKey, credential: Credential, today: int
) -> None:
    blob = _issue(key, credential)
    assert_agree(engines, blob, today)
    assert_agree(engines, blob, (credential.issued - EPOCH).days)  # type: ignore[operator]


@FUZZ
@given(key=keys, claims=claims_arrays(), today=todays)
def test_resigned_claims(
    engines: tuple[Any, Any], key: IssuerKey, claims: list[Any], today: int
) -> None:
    try:
        payload = _cbor.dumps(claims)
    except (TypeError, ValueError):  # e.g. a map with both 1 and True: not encodable
        return
    assert_agree(engines, signed_envelope(key, payload), today)


MUTATIONS: dict[str, Callable[[st.DataObject, bytes, bytes], bytes]] = {
    "flip": lambda d, b, o: _set(b, d.draw(st.integers(0, len(b) - 1)), lambda x: x ^ (1 << d.draw(st.integers(0, 7)))),
    "byte": lambda d, b, o: _set(b, d.draw(st.integers(0, len(b) - 1)), lambda x: d.draw(st.integers(0, 255))),
    "truncate": lambda d, b, o: b[: d.draw(st.integers(0, len(b)))],
    "drop-front": lambda d, b, o: b[d.draw(st.integers(0, len(b))) :],
    "insert": lambda d, b, o: _insert(b, d.draw(st.integers(0, len(b))), d.draw(st.binary(min_size=1, max_size=3))),
    "delete": lambda d, b, o: _delete(b, d.draw(st.integers(0, len(b) - 1)), d.draw(st.integers(1, 3))),
    "splice": lambda d, b, o: _splice(d, b, o),
    "non-canonical-head": lambda d, b, o: _recode(d, b),
}  # fmt: skip


def _set(blob: bytes, position: int, change: Callable[[int], int]) -> bytes:
    return blob[:position] + bytes([change(blob[position])]) + blob[position + 1 :]


def _insert(blob: bytes, position: int, data: bytes) -> bytes:
    return blob[:position] + data + blob[position:]


def _delete(blob: bytes, position: int, count: int) -> bytes:
    return blob[:position] + blob[position + count :]


def _splice(data: st.DataObject, blob: bytes, other: bytes) -> bytes:
    i = data.draw(st.integers(0, len(blob)))
    j = data.draw(st.integers(0, len(other)))
    k = data.draw(st.integers(j, len(other)))
    length = data.draw(st.sampled_from([k - j, 0, 1, 2]))
    return blob[:i] + other[j:k] + blob[i + length :]


def _recode(data: st.DataObject, blob: bytes) -> bytes:
    heads = _heads(blob)
    if not heads:
        return blob
    position, major, argument = data.draw(st.sampled_from(heads))
    return _longer_head(blob, position, major, argument, data.draw(st.sampled_from([1, 2, 4, 8])))


@FUZZ
@given(
    key=keys,
    credential=credentials(),
    other=credentials(),
    mutations=st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3),
    data=st.data(),
)
def test_mutated_credentials(
    engines: tuple[Any, Any],
    key: IssuerKey,
    credential: Credential,
    other: Credential,
    mutations: list[str],
    data: st.DataObject,
) -> None:
    blob = _issue(key, credential)
    other_blob = _issue(data.draw(keys), other)
    for name in mutations:
        if blob:
            blob = MUTATIONS[name](data, blob, other_blob)
    assert_agree(engines, blob)


@FUZZ
@given(key=keys, credential=credentials(), data=st.data())
def test_resigned_payload_mutations(
    engines: tuple[Any, Any], key: IssuerKey, credential: Credential, data: st.DataObject
) -> None:
    """A valid signature over a payload a byte or a head away from canonical claims."""
    payload = _cbor.dumps(credential.to_claims())
    name = data.draw(st.sampled_from(sorted(MUTATIONS)))
    mutated = MUTATIONS[name](data, payload, _cbor.dumps(data.draw(claims_arrays())))
    assert_agree(engines, signed_envelope(key, mutated), (credential.issued - EPOCH).days)  # type: ignore[operator]


@FUZZ
@given(
    key=keys,
    header=st.one_of(
        st.dictionaries(st.one_of(st.integers(-2, 5), st.booleans(), st.text(max_size=1)), cbor_values, max_size=3),
        st.binary(max_size=12),
        st.builds(
            lambda alg, kid: {1: alg, 4: kid},
            st.one_of(st.sampled_from([-7, -8]), cbor_values),
            st.one_of(st.sampled_from([k.public().wire_kid for k in KEYS.values()]), st.binary(max_size=3)),
        ),
    ),
    unprotected=st.one_of(st.just(b"\xa0"), st.binary(max_size=4), cbor_values.map(_cbor.dumps)),
)  # fmt: skip
def test_headers(engines: tuple[Any, Any], key: IssuerKey, header: Any, unprotected: bytes) -> None:
    payload = _cbor.dumps(Credential.to_claims(_SAMPLE))
    if not isinstance(header, bytes):
        try:
            header = _cbor.dumps(header)
        except (TypeError, ValueError):
            return
    assert_agree(engines, signed_envelope(key, payload, header, unprotected=unprotected))


_SAMPLE = Credential(
    name="Ana Sofia Rivera Delgado",
    date_of_birth=date(1990, 4, 12),
    issued=date(2026, 11, 21),
    expires=date(2031, 11, 20),
    status_index=4711,
)


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(blob=st.binary(max_size=200))
def test_arbitrary_bytes(engines: tuple[Any, Any], blob: bytes) -> None:
    assert_agree(engines, blob)
    assert_agree(engines, b"\x84\x47\xa2\x01\x26\x04\x42" + KEYS["ES256"].public().wire_kid + blob)


@FUZZ
@given(
    batch=st.lists(st.tuples(keys, credentials(), st.integers(0, 3)), max_size=6),
    flips=st.lists(st.integers(0, 10**6), max_size=4),
    now=st.sampled_from([moment for moment, _ in _moments(TODAY)]),
)
def test_batches(
    engines: tuple[Any, Any],
    batch: list[tuple[IssuerKey, Credential, int]],
    flips: list[int],
    now: date,
) -> None:
    """verify_many gives, in order, what verify gives for each credential."""
    blobs = [bytearray(_issue(key, credential)[cut:]) for key, credential, cut in batch]
    for flip in flips:
        if blobs:
            flipped = blobs[flip % len(blobs)]
            if flipped:
                flipped[flip % len(flipped)] ^= 1 << (flip % 8)
    data = [bytes(blob) for blob in blobs]
    python, c = engines
    expected = [_described(result) for result in python.verify_many(data, now)]
    assert [_described(result) for result in c.verify_many(data, now)] == expected
    singles = []
    for blob in data:
        try:
            singles.append(_described(c.verify(blob, now)))
        except CredentialError as error:
            singles.append(_described(error))
    assert singles == expected


@FUZZ
@given(
    claims=st.one_of(claims_arrays(), credentials().map(Credential.to_claims)),
    mutate=st.booleans(),
    data=st.data(),
)
def test_the_python_claims_fast_path_agrees_with_the_strict_decoder(
    claims: list[Any], mutate: bool, data: st.DataObject
) -> None:
    """_canonical_claims may only accept what the strict decoder and from_claims accept,
    and must build the same credential from it."""
    try:
        payload = _cbor.dumps(claims)
    except (TypeError, ValueError):
        return
    if mutate:
        payload = MUTATIONS[data.draw(st.sampled_from(sorted(MUTATIONS)))](data, payload, payload)
    fast = _canonical_claims(payload)
    event(f"fast path taken: {fast is not None}")
    if fast is None:
        return
    credential, issued, expires = fast
    strict = Credential.from_claims(_cbor.loads(payload))
    assert type(credential) is Credential
    assert [(k, type(v), v) for k, v in vars(credential).items()] == [
        (k, type(v), v) for k, v in vars(strict).items()
    ]
    assert (issued, expires) == ((strict.issued - EPOCH).days, (strict.expires - EPOCH).days)  # type: ignore[operator]


SMALL_NUMBERS = [
    Credential(
        name="A",
        date_of_birth=date(1969, 12, 25),  # day -7
        issued=date(1970, 1, 1),  # day 0
        expires=date(1970, 1, 20),  # day 19
        status_index=status_index,
        gender="X",
        tag_uid=bytes(4),
    )
    for status_index in (0, 23, 24, 255, 256, 65535, 65536)
] + [
    Credential(
        name="B" * 24,
        date_of_birth=date(1969, 11, 1),  # day -61: a 1-byte argument
        issued=date(1970, 2, 1),
        expires=date(1970, 10, 1),  # day 273: a 2-byte argument
        status_index=2**32 - 1,
        card_key=POINTS[0],
    )
]


@pytest.mark.parametrize("credential", SMALL_NUMBERS, ids=lambda c: str(c.status_index))
def test_the_python_claims_fast_path_refuses_every_longer_head(credential: Credential) -> None:
    """Every head re-encoded in a longer form is non-canonical: the strict decoder's to refuse."""
    payload = _cbor.dumps(credential.to_claims())
    assert _canonical_claims(payload) is not None
    longer_forms = 0
    for position, major, argument in _heads(payload):
        for size in (1, 2, 4, 8):
            longer = _longer_head(payload, position, major, argument, size)
            if longer != payload:
                longer_forms += 1
                assert _canonical_claims(longer) is None, (position, size)
    assert longer_forms >= 30


#: Zones as callers pass them: none (naive: local time), UTC itself, fixed offsets down to the
#: microsecond, and a real zone with daylight saving time.
zones = st.one_of(
    st.none(),
    st.just(UTC),
    st.builds(
        timezone,
        st.timedeltas(
            min_value=timedelta(hours=-24) + timedelta(microseconds=1),
            max_value=timedelta(hours=24) - timedelta(microseconds=1),
        ),
    ),
    st.just(ZoneInfo("America/Chicago")),
)
#: Near 2**53 microseconds from 1970, where a timestamp's float stops being exact.
FLOAT_EDGE = datetime(1970, 1, 1) + timedelta(microseconds=2**53)
#: Microseconds that a timestamp's float rounds up to the next second, far from 1970.
ROUNDED_UP = st.sampled_from([999_999, 999_998, 999_995, 999_990, 999_900, 500_000, 1])


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(
    now=st.one_of(
        st.datetimes(timezones=zones),
        st.datetimes(
            min_value=FLOAT_EDGE - timedelta(seconds=3),
            max_value=FLOAT_EDGE + timedelta(seconds=3),
            timezones=st.one_of(st.none(), st.just(UTC)),
        ),
        st.builds(
            lambda moment, micros: moment.replace(microsecond=micros),
            st.datetimes(timezones=zones),
            ROUNDED_UP,
        ),
        st.dates(),
    )
)
def test_both_engines_read_the_same_day_and_second(engines: tuple[Any, Any], now: date) -> None:
    """The twins judge any moment by the same day, and by the same second (which is what
    verifier._clock gives: int() of the timestamp)."""
    today, moment = _clock(now)
    result = engines[0].verify(_issue(KEYS["EdDSA"], _SAMPLE), date(2027, 6, 1))
    entry = (result, 3, today, today, 0)  # key 3 has no list in the other tests
    try:
        for engine in engines:
            # Current until `moment`: VALID at that second, UNKNOWN a second later.
            engine.set_status_list(3, b"\x00", 1, moment)
            assert engine.recheck(entry, now).status is CredentialStatus.VALID, engine
            engine.set_status_list(3, b"\x00", 1, moment - 1)
            assert engine.recheck(entry, now).status is CredentialStatus.UNKNOWN, engine
    finally:
        for engine in engines:
            engine.set_status_list(3, None, 1, None)
