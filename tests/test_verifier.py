"""verify(): the ordered checks, every single-bit flip, dates, keys, and privacy of errors."""

from __future__ import annotations

import itertools
import sys
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cityid_card
from cityid_card import (
    BadSignature,
    CredentialError,
    Expired,
    IssuerKey,
    KeyNotValid,
    KeyOutsideValidity,
    MalformedCredential,
    NotYetValid,
    PublicKey,
    StatusPolicy,
    StatusUnknown,
    TrustStore,
    UnknownIssuer,
    UnsupportedAlgorithm,
    Verifier,
    _cbor,
    verify,
)
from cityid_card.verifier import _ENGINES, _PythonEngine, decode_unverified

from .conftest import NOW, native_module, sample_credential, signed_envelope

# Offsets in the envelope of a credential with a 24-character name and no gender:
# 84 | 47 a2 01 alg 04 42 kid kid | a0 | 58 len payload... | 58 40 signature...
ALG_OFFSET = 4
KID_OFFSETS = (7, 8)
PAYLOAD_START = 12
SIGNATURE_SIZE = 64


def test_valid_credential(blob: bytes, trust: TrustStore, issuer_key: IssuerKey) -> None:
    result = verify(blob, trust, now=NOW)
    assert result.credential == sample_credential()
    assert result.kid == issuer_key.kid
    assert result.alg == issuer_key.alg
    assert len(blob) == 118  # 120 with a status index above 65535


def test_every_single_bit_flip_is_rejected_with_its_typed_error(
    blob: bytes, trust: TrustStore
) -> None:
    signature_start = len(blob) - SIGNATURE_SIZE
    for position, bit in itertools.product(range(len(blob)), range(8)):
        tampered = bytearray(blob)
        tampered[position] ^= 1 << bit
        with pytest.raises(CredentialError) as caught:
            verify(bytes(tampered), trust, now=NOW)
        error = type(caught.value)
        where = f"byte {position} bit {bit}: {error.__name__}"
        if position >= signature_start or PAYLOAD_START <= position < signature_start - 2:
            assert error is BadSignature, where
        elif position in KID_OFFSETS:
            assert error is UnknownIssuer, where
        elif position == ALG_OFFSET:
            assert error in (UnsupportedAlgorithm, UnknownIssuer, MalformedCredential), where
        else:
            assert error is MalformedCredential, where


def test_truncations_and_extensions_are_malformed(blob: bytes, trust: TrustStore) -> None:
    for size in range(len(blob)):
        with pytest.raises(MalformedCredential):
            verify(blob[:size], trust, now=NOW)
    with pytest.raises(MalformedCredential):
        verify(blob + b"\x00", trust, now=NOW)
    with pytest.raises(MalformedCredential):
        verify(b"\xd2" + blob, trust, now=NOW)


def test_validity_is_inclusive_of_issue_and_expiry_days(blob: bytes, trust: TrustStore) -> None:
    credential = sample_credential()
    assert credential.issued is not None
    verify(blob, trust, now=credential.issued)
    verify(blob, trust, now=credential.expires)
    with pytest.raises(NotYetValid):
        verify(blob, trust, now=credential.issued - timedelta(days=1))
    with pytest.raises(Expired):
        verify(blob, trust, now=credential.expires + timedelta(days=1))


def test_now_is_judged_by_its_own_calendar_date(blob: bytes, trust: TrustStore) -> None:
    expires = sample_credential().expires
    late_evening_chicago = datetime(
        expires.year, expires.month, expires.day, 23, 0, tzinfo=timezone(timedelta(hours=-6))
    )
    verify(blob, trust, now=late_evening_chicago)  # still the expiry day there
    with pytest.raises(Expired):
        verify(blob, trust, now=late_evening_chicago.astimezone(UTC))
    naive = datetime(expires.year, expires.month, expires.day, 23, 59)
    verify(blob, trust, now=naive)
    with pytest.raises(Expired):
        verify(blob, trust, now=naive + timedelta(minutes=1))


def test_now_defaults_to_the_current_time(issuer_key: IssuerKey, trust: TrustStore) -> None:
    today = date.today()  # the local calendar date (tests/test_dates.py: across zones)
    expired = issuer_key.issue(
        sample_credential(issued=today - timedelta(days=10), expires=today - timedelta(days=2))
    )
    with pytest.raises(Expired):
        verify(expired, trust)
    current = issuer_key.issue(
        sample_credential(issued=today - timedelta(days=2), expires=today + timedelta(days=2))
    )
    assert verify(current, trust).credential.expires == today + timedelta(days=2)


def test_a_credential_is_only_accepted_under_a_key_valid_on_its_issue_date(
    issuer_key: IssuerKey, blob: bytes
) -> None:
    public = issuer_key.public()
    issued = sample_credential().issued
    assert issued is not None

    def store(valid_from: date | None, valid_until: date | None) -> TrustStore:
        return TrustStore([replace(public, valid_from=valid_from, valid_until=valid_until)])

    verify(blob, store(issued, issued), now=NOW)
    verify(blob, store(None, None), now=NOW)
    with pytest.raises(KeyNotValid):
        verify(blob, store(issued + timedelta(days=1), None), now=NOW)
    with pytest.raises(KeyNotValid):
        verify(blob, store(None, issued - timedelta(days=1)), now=NOW)
    # A retired key (window over) still vouches for the cards it issued while valid.
    verify(blob, store(None, issued), now=NOW)


def test_issuer_refuses_to_sign_outside_its_window(alg: str) -> None:
    key = IssuerKey.generate(alg, "K", valid_until=date(2020, 12, 31))  # type: ignore[arg-type]
    with pytest.raises(KeyOutsideValidity):  # spec section 9: the issuer MUST NOT sign
        key.issue(sample_credential())


def test_unknown_key_and_key_of_another_algorithm(blob: bytes, issuer_key: IssuerKey) -> None:
    stranger = IssuerKey.generate(issuer_key.alg, kid="OTHER")
    with pytest.raises(UnknownIssuer):
        verify(blob, TrustStore([stranger.public()]), now=NOW)
    with pytest.raises(UnknownIssuer):
        verify(blob, TrustStore(), now=NOW)


def _colliding_keys(alg: str) -> tuple[IssuerKey, IssuerKey]:
    seen: dict[bytes, IssuerKey] = {}
    for number in itertools.count():
        key = IssuerKey.generate(alg, kid=f"K{number}")  # type: ignore[arg-type]
        wire_kid = key.public().wire_kid
        if wire_kid in seen:
            return seen[wire_kid], key
        seen[wire_kid] = key
    raise AssertionError("unreachable")


def test_keys_that_share_a_wire_kid_are_both_tried() -> None:
    first, second = _colliding_keys("EdDSA")
    both = TrustStore([first.public(), second.public()])
    for key in (first, second):
        result = verify(key.issue(sample_credential()), both, now=NOW)
        assert result.kid == key.kid
    with pytest.raises(BadSignature):
        verify(second.issue(sample_credential()), TrustStore([first.public()]), now=NOW)


def test_a_non_canonical_payload_is_rejected_even_whensigned_envelope(
    issuer_key: IssuerKey, trust: TrustStore
) -> None:
    claims = _cbor.dumps(sample_credential().to_claims())
    # status index 4711 = 19 12 67: re-encode it with a 4-byte head (1a 00 00 12 67).
    longer = claims.replace(b"\x19\x12\x67", b"\x1a\x00\x00\x12\x67")
    assert longer != claims
    with pytest.raises(MalformedCredential):
        verify(signed_envelope(issuer_key, longer), trust, now=NOW)


def test_alg_and_kid_are_only_read_from_the_protected_header(
    issuer_key: IssuerKey, trust: TrustStore
) -> None:
    claims = _cbor.dumps(sample_credential().to_claims())
    alg = -7 if issuer_key.alg == "ES256" else -8
    kid = issuer_key.public().wire_kid
    with pytest.raises(MalformedCredential):
        verify(
            signed_envelope(issuer_key, claims, {1: alg}, unprotected=_cbor.dumps({4: kid})),
            trust,
            now=NOW,
        )
    with pytest.raises(MalformedCredential):
        verify(
            signed_envelope(issuer_key, claims, {4: kid}, unprotected=_cbor.dumps({1: alg})),
            trust,
            now=NOW,
        )
    with pytest.raises(UnsupportedAlgorithm):
        verify(signed_envelope(issuer_key, claims, {1: -35, 4: kid}), trust, now=NOW)
    true_as_alg_label = b"\xa2\x04\x42" + kid + b"\xf5" + _cbor.dumps(alg)  # {4: kid, true: alg}
    with pytest.raises(MalformedCredential):  # canonical CBOR, but true is not the label 1
        verify(signed_envelope(issuer_key, claims, true_as_alg_label), trust, now=NOW)
    with pytest.raises(UnsupportedAlgorithm):  # the name is not the COSE identifier
        verify(signed_envelope(issuer_key, claims, {1: issuer_key.alg, 4: kid}), trust, now=NOW)
    with pytest.raises(MalformedCredential):
        verify(signed_envelope(issuer_key, claims, {1: alg, 4: kid + b"\x00"}), trust, now=NOW)


def test_input_must_be_bytes(trust: TrustStore, blob: bytes) -> None:
    with pytest.raises(TypeError):
        verify(blob.hex(), trust)  # type: ignore[arg-type]
    assert verify(bytearray(blob), trust, now=NOW).credential == sample_credential()
    with pytest.raises(TypeError):
        verify(blob, trust, now="2027-01-01")  # type: ignore[arg-type]


def test_decode_unverified_reads_claims_without_trusting_them(
    blob: bytes, issuer_key: IssuerKey
) -> None:
    decoded = decode_unverified(blob)
    assert decoded.credential == sample_credential()
    assert decoded.alg == issuer_key.alg
    assert decoded.wire_kid == issuer_key.public().wire_kid
    with pytest.raises(MalformedCredential):
        decode_unverified(blob[:-1])


def _personal_strings(credential: object) -> list[str]:
    holder = sample_credential(gender="Two-Spirit")
    dob = holder.date_of_birth
    return [
        holder.name, "Ana", "Rivera", "Two-Spirit", dob.isoformat(), dob.strftime("%m/%d/%Y"),
        str((dob - date(1970, 1, 1)).days),
    ]  # fmt: skip


def test_error_messages_never_contain_personal_data(
    issuer_key: IssuerKey, trust: TrustStore
) -> None:
    holder = sample_credential(gender="Two-Spirit")
    blob = issuer_key.issue(holder)
    claims = holder.to_claims()
    failures: list[bytes] = []
    for position, bit in itertools.product(range(len(blob)), range(8)):
        tampered = bytearray(blob)
        tampered[position] ^= 1 << bit
        failures.append(bytes(tampered))
    failures += [
        signed_envelope(issuer_key, _cbor.dumps([*claims, {1: b"x"}, "221B"])),
        signed_envelope(issuer_key, _cbor.dumps([1, holder.name + "\n", *claims[2:]])),
        signed_envelope(issuer_key, _cbor.dumps([1, "Zoe\u0308", *claims[2:]])),
        signed_envelope(issuer_key, _cbor.dumps([*claims[:5], -1, *claims[6:]])),
    ]
    errors: list[CredentialError] = []
    for data in failures:
        with pytest.raises(CredentialError) as caught:
            verify(data, trust, now=NOW)
        errors.append(caught.value)
    for when in (date(2026, 1, 1), date(2040, 1, 1)):
        with pytest.raises(CredentialError) as caught:
            verify(blob, trust, now=when)
        errors.append(caught.value)
    forbidden = _personal_strings(holder)
    for error in errors:
        text = f"{error} {error!r} {error.args}"
        assert not [s for s in forbidden if s in text], text
    # A result printed or logged by the caller does not show the holder either.
    shown = repr(verify(blob, trust, now=NOW))
    assert not [s for s in forbidden if s in shown], shown


def test_public_key_of_the_wrong_type_is_refused(issuer_key: IssuerKey) -> None:
    with pytest.raises(TypeError):
        TrustStore([issuer_key])  # type: ignore[list-item]
    assert isinstance(issuer_key.public(), PublicKey)


def test_verify_many_keeps_input_order_and_returns_errors(
    issuer_key: IssuerKey, trust: TrustStore
) -> None:
    from cityid_card import VerifiedCredential, verify_many

    good = [issuer_key.issue(sample_credential(status_index=i)) for i in range(20)]
    broken = bytearray(good[3])
    broken[-1] ^= 1
    blobs = [*good[:3], bytes(broken), *good[3:], b"", good[0][:-1]]
    for threads in (1, 2, 8):
        results = verify_many(blobs, trust, NOW, threads=threads)
        assert len(results) == len(blobs)
        assert isinstance(results[3], BadSignature)
        assert isinstance(results[-2], MalformedCredential)
        assert isinstance(results[-1], MalformedCredential)
        indexes = [r.credential.status_index for r in results if isinstance(r, VerifiedCredential)]
        assert indexes == list(range(20))
    assert verify_many([], trust, NOW) == []
    with pytest.raises(TypeError):
        verify_many(["not bytes"], trust, NOW)  # type: ignore[list-item]


@settings(max_examples=500)
@given(data=st.data())
def test_the_envelope_fast_path_agrees_with_the_strict_parser(data: st.DataObject) -> None:
    """_canonical_envelope may only accept what _checked_envelope accepts, identically."""
    from cityid_card.verifier import _canonical_envelope, _checked_envelope

    key = IssuerKey.generate(data.draw(st.sampled_from(["ES256", "EdDSA"])), kid="K")
    name = data.draw(st.text(alphabet="abcdefghij ", min_size=1, max_size=100).map(str.strip))
    blob = bytearray(key.issue(sample_credential(name=name or "A")))
    for _ in range(data.draw(st.integers(0, 3))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    candidate = bytes(blob[:cut] if data.draw(st.booleans()) else blob)
    fast = _canonical_envelope(candidate)
    if fast is not None:
        assert _checked_envelope(candidate) == fast


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"gender": "X"},
        {"name": "Zoë Ñúñez 李小龍", "gender": "Mujer ✨", "card_key": bytes([2]) + bytes(32)},
        {"tag_uid": bytes(7), "pseudonym_key": bytes([3]) + bytes(32)},
        {"name": "é" * 50, "status_index": 2**32 - 1},
        {"date_of_birth": date(1790, 7, 27), "expires": date(2149, 6, 6)},
    ],
)
def test_valid_claims_take_the_python_fast_path(changes: dict[str, Any]) -> None:
    """Every shape a valid credential takes is read without the generic decoder."""
    from cityid_card.verifier import _canonical_claims

    credential = sample_credential(**changes)
    fast = _canonical_claims(_cbor.dumps(credential.to_claims()))
    assert fast is not None and fast[0] == credential


def test_cache_hits_for_any_bytes_like_input_and_keeps_the_policy(
    blob: bytes, trust: TrustStore
) -> None:
    verifier = Verifier(trust, cache_size=4)
    first = verifier.verify(bytearray(blob), NOW)
    assert verifier.verify(blob, NOW) is first
    assert verifier.verify(memoryview(blob), NOW) is first
    assert verifier.status_policy is StatusPolicy.ACCEPT_UNKNOWN
    verifier.status_policy = StatusPolicy.REJECT_UNKNOWN
    with pytest.raises(StatusUnknown):
        verifier.verify(blob, NOW)  # a hit, judged by the new policy
    with pytest.raises(StatusUnknown):
        Verifier(trust, cache_size=0, status_policy=StatusPolicy.REJECT_UNKNOWN).verify(blob, NOW)
    verifier.update_trust(trust)  # a new engine keeps the policy
    with pytest.raises(StatusUnknown):
        verifier.verify(blob, NOW)
    with pytest.raises(TypeError):
        verifier.verify("not bytes", NOW)  # type: ignore[arg-type]


def test_trust_updates_while_verifying_never_leak_bytes_nor_serve_stale_results(
    issuer_key: IssuerKey, blob: bytes
) -> None:
    """One thread taps the card, another refreshes the trust store (the issue's reproducer).

    A refresh used to empty the cache without its lock: a tap raised KeyError carrying
    the credential's bytes, and an entry cached under the old store outlived the refresh.
    """
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
    public = issuer_key.public()
    issued = sample_credential().issued
    assert issued is not None
    accepting = TrustStore([public])
    rejecting = TrustStore([replace(public, valid_until=issued - timedelta(days=1))])
    verifier = Verifier(accepting)
    unexpected: list[BaseException] = []
    stop = threading.Event()

    def tap() -> None:
        while not stop.is_set():
            try:
                verifier.verify(bytes(bytearray(blob)), NOW)
            except KeyNotValid:
                pass
            except BaseException as error:  # anything else is the defect
                unexpected.append(error)

    tapper = threading.Thread(target=tap)
    tapper.start()
    stale = 0
    try:
        for _ in range(300):
            verifier.update_trust(accepting)
            verifier.verify(blob, NOW)
            verifier.update_trust(rejecting)
            try:
                verifier.verify(blob, NOW)
                stale += 1
            except KeyNotValid:
                pass
    finally:
        stop.set()
        tapper.join()
        sys.setswitchinterval(switch_interval)
    assert [type(error).__name__ for error in unexpected] == []
    assert stale == 0


def test_the_pass_runs_the_engine_it_names(
    pytestconfig: pytest.Config, blob: bytes, trust: TrustStore
) -> None:
    """scripts/test runs the ``verifies`` tests twice, with --engine=c and then with
    CITYID_CARD_PURE=1 --engine=python: each pass proves here which engine verified."""
    expected = pytestconfig.getoption("--engine")
    if expected is None:
        pytest.skip("no --engine: this run uses whatever engine this machine has")
    assert cityid_card.implementation == expected
    assert Verifier(trust).implementation == expected
    verify(blob, trust, now=NOW)
    engine = trust.default_verifier._engine
    assert type(engine) is (_PythonEngine if expected == "python" else native_module().Engine)
    assert ("c" in _ENGINES) is (expected == "c")
