"""The claims model: closed schema, value rules, canonical form, round trips."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from cityid_card import (
    Credential,
    InvalidClaim,
    IssuerKey,
    MalformedCredential,
    TrustStore,
    UnknownClaim,
    UnsupportedVersion,
    _cbor,
    verify,
)
from cityid_card.credential import MAX_DATE, MAX_NAME_BYTES, MIN_DATE

from .conftest import sample_credential

KEYS = {alg: IssuerKey.generate(alg, kid=alg) for alg in ("ES256", "EdDSA")}
TRUST = TrustStore(key.public() for key in KEYS.values())


def _acceptable(text: str, max_bytes: int) -> bool:
    return (
        0 < len(text.encode("utf-8", "surrogatepass")) <= max_bytes
        and text == text.strip()
        and unicodedata.is_normalized("NFC", text)
        and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)
    )


def holder_text(max_bytes: int) -> st.SearchStrategy[str]:
    return (
        st.text(min_size=1, max_size=max_bytes)
        .map(lambda s: unicodedata.normalize("NFC", s).strip())
        .filter(lambda s: _acceptable(s, max_bytes))
    )


days = st.dates(min_value=MIN_DATE, max_value=MAX_DATE)


def _compressed_point(scalar: int) -> bytes:
    public = ec.derive_private_key(scalar, ec.SECP256R1()).public_key()
    return public.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


points = st.integers(min_value=1, max_value=2**255).map(_compressed_point)


@st.composite
def credentials(draw: st.DrawFn) -> Credential:
    dob, issued, expires = sorted(draw(st.lists(days, min_size=3, max_size=3)))
    return Credential(
        name=draw(holder_text(MAX_NAME_BYTES)),
        date_of_birth=dob,
        issued=issued,
        expires=expires,
        status_index=draw(st.integers(0, 2**32 - 1)),
        gender=draw(st.none() | holder_text(32)),
        card_key=draw(st.none() | points),
        tag_uid=draw(
            st.none()
            | st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
        ),
        pseudonym_key=draw(st.none() | points),
    )


@settings(max_examples=300)
@given(credential=credentials(), alg=st.sampled_from(sorted(KEYS)))
def test_issue_verify_round_trip_over_the_claim_space(credential: Credential, alg: str) -> None:
    blob = KEYS[alg].issue(credential)
    assert credential.issued is not None
    result = verify(blob, TRUST, now=credential.issued)
    assert result.credential == credential
    assert (result.alg, result.kid) == (alg, alg)
    assert verify(blob, TRUST, now=credential.expires).credential == credential


@settings(max_examples=300)
@given(credential=credentials())
def test_claims_encoding_is_canonical_and_reversible(credential: Credential) -> None:
    encoded = _cbor.dumps(credential.to_claims())
    assert Credential.from_claims(_cbor.loads(encoded)) == credential
    assert _cbor.dumps(_cbor.loads(encoded)) == encoded


@given(
    name=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=24, max_size=24
    ),
    status_index=st.integers(0, 2**32 - 1),
    dob=st.dates(min_value=MIN_DATE, max_value=date(2026, 1, 1)),
    expires=st.dates(min_value=date(2027, 1, 1), max_value=MAX_DATE),
    alg=st.sampled_from(sorted(KEYS)),
)
def test_a_24_character_name_fits_in_120_bytes(
    name: str, status_index: int, dob: date, expires: date, alg: str
) -> None:
    credential = Credential(
        name=name,
        date_of_birth=dob,
        issued=date(2026, 6, 1),
        expires=expires,
        status_index=status_index,
    )
    assert len(KEYS[alg].issue(credential)) <= 120


def test_boundary_dates_are_accepted() -> None:
    credential = sample_credential(date_of_birth=MIN_DATE, issued=MIN_DATE, expires=MAX_DATE)
    blob = KEYS["ES256"].issue(credential)
    assert verify(blob, TRUST, now=MAX_DATE).credential == credential


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * (MAX_NAME_BYTES + 1)}, "name"),
        ({"name": "é" * 51}, "name"),  # 102 bytes of UTF-8
        ({"name": " Ana"}, "white space"),
        ({"name": "Ana\nRivera"}, "control"),
        ({"name": "Ana\x00"}, "control"),
        ({"name": "Zoe\u0308"}, "NFC"),
        ({"name": "Ana\udc80"}, "Unicode"),
        ({"name": 42}, "text"),
        ({"gender": ""}, "gender"),
        ({"gender": "x" * 33}, "gender"),
        ({"gender": "X\t"}, "white space"),
        ({"date_of_birth": MIN_DATE - timedelta(days=1)}, "date_of_birth"),
        ({"expires": MAX_DATE + timedelta(days=1)}, "expires"),
        ({"date_of_birth": datetime(1990, 4, 12)}, "datetime.date"),
        ({"issued": date(2032, 1, 1)}, "<="),
        ({"date_of_birth": date(2027, 1, 1)}, "<="),
        ({"status_index": -1}, "status_index"),
        ({"status_index": 2**32}, "status_index"),
        ({"status_index": True}, "status_index"),
        ({"card_key": b"\x04" + bytes(32)}, "compressed"),
        ({"card_key": b"\x02" + bytes(64)}, "33"),
        ({"tag_uid": bytes(5)}, "tag_uid"),
        ({"pseudonym_key": "02" * 33}, "pseudonym_key"),
    ],
)
def test_values_outside_the_format_are_refused(changes: dict[str, Any], complaint: str) -> None:
    with pytest.raises(InvalidClaim, match=complaint):
        sample_credential(**changes)


@pytest.mark.parametrize("field", ["address", "phone", "immigration_status", "document_number"])
def test_fields_outside_the_schema_are_refused_by_name(field: str) -> None:
    data = {**vars(sample_credential()), field: "221B Baker Street"}
    with pytest.raises(UnknownClaim, match=field) as caught:
        Credential.from_fields(data)
    assert "Baker" not in str(caught.value)


def test_from_fields_builds_a_credential_and_names_a_missing_field() -> None:
    data = vars(sample_credential())
    assert Credential.from_fields(data) == sample_credential()
    with pytest.raises(InvalidClaim, match="status_index"):
        Credential.from_fields({k: v for k, v in data.items() if k != "status_index"})


def test_to_claims_needs_an_issue_date() -> None:
    with pytest.raises(InvalidClaim):
        sample_credential(issued=None).to_claims()


def test_issue_fills_in_the_issue_date() -> None:
    blob = KEYS["EdDSA"].issue(sample_credential(issued=None), today=date(2026, 12, 1))
    assert verify(blob, TRUST, now=date(2026, 12, 1)).credential.issued == date(2026, 12, 1)


BASE = sample_credential().to_claims()


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ("not an array", MalformedCredential),
        ([], MalformedCredential),
        (["1", *BASE[1:]], MalformedCredential),
        ([True, *BASE[1:]], MalformedCredential),
        ([2, *BASE[1:]], UnsupportedVersion),
        ([0, *BASE[1:]], UnsupportedVersion),
        (BASE[:5], MalformedCredential),
        ([*BASE, None], MalformedCredential),
        ([*BASE, "X", {1: b"\x02" * 33}, "extra"], UnknownClaim),
        ([*BASE, None, {}], MalformedCredential),
        ([*BASE, None, {4: b"\x00"}], UnknownClaim),
        ([*BASE, None, {-1: b"\x00"}], UnknownClaim),
        ([*BASE, None, {True: b"\x02" * 33}], UnknownClaim),
        ([*BASE, None, {2: "04a1b2c3d4e5f6"}], InvalidClaim),
        ([*BASE, None, [b"\x00"]], MalformedCredential),
        ([*BASE, 7], InvalidClaim),
        ([1, b"Ana", *BASE[2:]], InvalidClaim),
        ([*BASE[:2], "1990-04-12", *BASE[3:]], InvalidClaim),
        ([*BASE[:2], 65536, *BASE[3:]], InvalidClaim),
        ([*BASE[:5], -1], InvalidClaim),
        ([*BASE[:5], False], InvalidClaim),
        ([*BASE[:3], BASE[4] + 1, *BASE[4:]], InvalidClaim),  # issued after expires
    ],
)
def test_claims_arrays_outside_the_schema_are_rejected(claims: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Credential.from_claims(claims)


def test_issuer_refuses_a_card_key_that_is_not_a_curve_point() -> None:
    not_on_curve = b"\x02" + b"\xff" * 32  # x >= p: no such point
    with pytest.raises(InvalidClaim, match="P-256"):
        KEYS["ES256"].issue(sample_credential(card_key=not_on_curve))
    real_point = bytes.fromhex("036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
    assert KEYS["ES256"].issue(sample_credential(card_key=real_point))


def test_extension_without_gender_uses_a_null_placeholder() -> None:
    credential = replace(sample_credential(), tag_uid=bytes(7))
    claims = credential.to_claims()
    assert claims[6] is None
    assert claims[7] == {2: bytes(7)}
    assert Credential.from_claims(claims) == credential
