"""Card-verifiable certificates: build, parse strictly, verify chains, roll the CVCA over."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from cityid_card.eac import (
    CertificateChainError,
    CertificateDateError,
    CertificateSignatureError,
    EacEncodingError,
    cvc,
    ri,
    tlv,
)
from cityid_card.eac.cvc import Chat, Rights, Role, TrustPoint
from tests.eac.pki import (
    ALL_RIGHTS,
    LIBRARY,
    TODAY,
    cvca_certificate,
    make_pki,
    public,
    seeded_key,
)

PKI = make_pki()
TRUST = TrustPoint.from_certificate(cvc.parse_certificate(PKI.cvca))


def test_parse_round_trip_and_fields() -> None:
    certificate = cvc.parse_certificate(PKI.terminal)
    body = certificate.body
    assert (body.car, body.chr) == ("USCHIDVLIB00001", "USCHILIBDSK00001")
    assert body.chat == Chat(Role.TERMINAL, LIBRARY)
    assert body.public_key == public(PKI.terminal_key)
    assert not body.domain_parameters and certificate.role is Role.TERMINAL
    assert cvc.sign_certificate(body, PKI.dv_key) == PKI.terminal  # RFC 6979: deterministic
    assert PKI.terminal.startswith(bytes.fromhex("7f2181"))
    cvca = cvc.parse_certificate(PKI.cvca)
    assert cvca.body.domain_parameters and cvca.body.car == cvca.body.chr


def test_the_chat_is_the_authentication_terminal_bitmap() -> None:
    chat = Chat(Role.DV_DOMESTIC, int(Rights.AGE_VERIFICATION | Rights.READ_NAME)).encode()
    assert chat.hex() == "7f4c12060904007f000703010202" + "5305" + "8000000801"


def test_a_chain_verifies_and_rights_are_the_intersection() -> None:
    terminal = cvc.verify_chain(TRUST, [PKI.dv, PKI.terminal], TODAY)
    assert terminal.chr == "USCHILIBDSK00001"
    assert terminal.public_key == public(PKI.terminal_key)
    assert terminal.rights == LIBRARY
    narrow = make_pki(terminal_rights=ALL_RIGHTS, dv_rights=int(Rights.AGE_VERIFICATION))
    trust = TrustPoint.from_certificate(cvc.parse_certificate(narrow.cvca))
    assert cvc.verify_chain(trust, [narrow.dv, narrow.terminal], TODAY).rights == int(
        Rights.AGE_VERIFICATION
    )


@pytest.mark.parametrize(
    ("today", "error"),
    [
        (date(2026, 11, 30), CertificateDateError),
        (date(2027, 3, 2), CertificateDateError),
        (date(2031, 1, 1), CertificateDateError),
    ],
)
def test_dates_are_checked_against_the_given_day(today: date, error: type[Exception]) -> None:
    with pytest.raises(error):
        cvc.verify_chain(TRUST, [PKI.dv, PKI.terminal], today)
    cvc.verify_chain(TRUST, [PKI.dv, PKI.terminal], date(2027, 3, 1))  # inclusive


def test_broken_chains_are_rejected() -> None:
    other = make_pki(label="other")
    with pytest.raises(CertificateChainError):
        cvc.verify_chain(TRUST, [PKI.terminal, PKI.dv], TODAY)
    with pytest.raises(CertificateChainError):
        cvc.verify_chain(TRUST, [PKI.terminal], TODAY)
    with pytest.raises(CertificateSignatureError):  # same names, another DV key
        cvc.verify_chain(TRUST, [PKI.dv, other.terminal], TODAY)
    with pytest.raises(CertificateSignatureError):
        cvc.verify_chain(TRUST, [other.dv, other.terminal], TODAY)
    dv_as_terminal = cvc.sign_certificate(
        replace(cvc.parse_certificate(PKI.dv).body, chat=Chat(Role.TERMINAL, LIBRARY)),
        PKI.cvca_key,
    )
    with pytest.raises(CertificateChainError):
        cvc.verify_chain(TRUST, [dv_as_terminal, PKI.terminal], TODAY)


def test_a_flipped_signature_bit_is_caught() -> None:
    bad = bytearray(PKI.terminal)
    bad[-1] ^= 1
    with pytest.raises(CertificateSignatureError):
        cvc.verify_chain(TRUST, [PKI.dv, bytes(bad)], TODAY)
    body_bit = bytearray(PKI.terminal)
    body_bit[len(body_bit) // 2] ^= 1
    with pytest.raises((CertificateSignatureError, EacEncodingError)):
        cvc.verify_chain(TRUST, [PKI.dv, bytes(body_bit)], TODAY)


def test_cvca_rollover_with_a_link_certificate() -> None:
    new_key = seeded_key("cvca2")
    link = cvca_certificate(
        new_key,
        "USCHICVCA00002",
        signer=PKI.cvca_key,
        car="USCHICVCA00001",
        expires=date(2033, 1, 1),
    )
    new_trust = cvc.import_link_certificate(TRUST, link)
    assert new_trust.chr == "USCHICVCA00002" and new_trust.public_key == public(new_key)
    new_dv = cvc.sign_certificate(
        replace(cvc.parse_certificate(PKI.dv).body, car="USCHICVCA00002"), new_key
    )
    assert cvc.verify_chain(new_trust, [new_dv, PKI.terminal], TODAY).rights == LIBRARY
    with pytest.raises(CertificateChainError):
        cvc.verify_chain(TRUST, [new_dv, PKI.terminal], TODAY)
    # A link certificate must name the current trust point and be signed by its key.
    with pytest.raises(CertificateChainError):
        cvc.import_link_certificate(new_trust, link)
    forged = cvca_certificate(new_key, "USCHICVCA00002", car="USCHICVCA00001")
    with pytest.raises(CertificateSignatureError):
        cvc.import_link_certificate(TRUST, forged)
    with pytest.raises(CertificateChainError):
        cvc.import_link_certificate(TRUST, PKI.dv)


def test_an_expired_link_certificate_still_lets_a_card_catch_up() -> None:
    link = cvca_certificate(
        seeded_key("cvca2"),
        "USCHICVCA00002",
        signer=PKI.cvca_key,
        car="USCHICVCA00001",
        effective=date(2026, 12, 1),
        expires=date(2026, 12, 31),
    )
    assert cvc.import_link_certificate(TRUST, link).expires == date(2026, 12, 31)


def test_sector_extension_names_the_sectors_a_terminal_may_use() -> None:
    library_sector = ri.sector_public_key_object(public(seeded_key("sector library")))
    transit_sector = ri.sector_public_key_object(public(seeded_key("sector transit")))
    pki = make_pki(extensions=(cvc.sector_extension(library_sector),), label="x")
    trust = TrustPoint.from_certificate(cvc.parse_certificate(pki.cvca))
    terminal = cvc.verify_chain(trust, [pki.dv, pki.terminal], TODAY)
    assert cvc.sector_allowed(terminal, library_sector)
    assert not cvc.sector_allowed(terminal, transit_sector)
    assert not cvc.sector_allowed(
        cvc.verify_chain(TRUST, [PKI.dv, PKI.terminal], TODAY), library_sector
    )


def _rebuild(certificate: bytes, edit: dict[int, bytes | None]) -> bytes:
    """Re-encode a certificate body with fields replaced or dropped (signature kept)."""
    outer = dict(tlv.decode_all(tlv.expect(certificate, 0x7F21)))
    fields = tlv.decode_all(outer[0x7F4E])
    parts = []
    for tag, value in fields:
        replacement = edit.get(tag, value)
        if replacement is not None:
            parts.append(tlv.encode(tag, replacement))
    body = b"".join(parts)
    return tlv.encode(0x7F21, tlv.encode(0x7F4E, body) + tlv.encode(0x5F37, outer[0x5F37]))


@pytest.mark.parametrize(
    "edit",
    [
        {0x5F29: b"\x01"},
        {0x5F20: None},
        {0x5F25: bytes([2, 6, 1, 3, 0, 1])},
        {0x5F25: bytes([2, 6, 0, 2, 3, 0])},
        {0x5F25: b"261201"},
        {0x5F24: bytes([2, 5, 0, 1, 0, 1])},
        {0x42: "é".encode("latin-1")},
        {0x42: b""},
        {
            0x7F4C: tlv.encode(0x06, tlv.encode_oid("0.4.0.127.0.7.3.1.2.1"))
            + bytes.fromhex("530100")
        },
    ],
)
def test_strict_parsing_rejects_malformed_bodies(edit: dict[int, bytes | None]) -> None:
    with pytest.raises(EacEncodingError):
        cvc.parse_certificate(_rebuild(PKI.terminal, edit))


def test_strict_parsing_rejects_trailing_bytes_wrong_keys_and_short_signatures() -> None:
    with pytest.raises(EacEncodingError):
        cvc.parse_certificate(PKI.terminal + b"\x00")
    key_content = dict(tlv.decode_all(tlv.expect(PKI.terminal, 0x7F21)))[0x7F4E]
    parsed = dict(tlv.decode_all(key_content))[0x7F49]
    wrong_oid = parsed.replace(
        tlv.encode_oid(cvc.ID_TA_ECDSA_SHA_256), tlv.encode_oid("0.4.0.127.0.7.2.2.2.2.5")
    )
    with pytest.raises(EacEncodingError):
        cvc.parse_certificate(_rebuild(PKI.terminal, {0x7F49: wrong_oid}))
    # A CVCA without domain parameters, and domain parameters of another curve.
    cvca_body = dict(tlv.decode_all(dict(tlv.decode_all(tlv.expect(PKI.cvca, 0x7F21)))[0x7F4E]))
    key = dict(tlv.decode_all(cvca_body[0x7F49]))
    bare = tlv.encode(0x06, key[0x06]) + tlv.encode(0x86, key[0x86])
    with pytest.raises(EacEncodingError):
        cvc.parse_certificate(_rebuild(PKI.cvca, {0x7F49: bare}))
    other_curve = cvca_body[0x7F49].replace(key[0x83], bytes(32))
    with pytest.raises(EacEncodingError):
        cvc.parse_certificate(_rebuild(PKI.cvca, {0x7F49: other_curve}))
    body = dict(tlv.decode_all(tlv.expect(PKI.terminal, 0x7F21)))[0x7F4E]
    short = tlv.encode(0x7F21, tlv.encode(0x7F4E, body) + tlv.encode(0x5F37, bytes(63)))
    with pytest.raises(EacEncodingError):
        cvc.parse_certificate(short)


def test_building_refuses_bad_bodies() -> None:
    body = cvc.parse_certificate(PKI.terminal).body
    with pytest.raises(EacEncodingError):
        replace(body, expires=date(2026, 1, 1)).encode()
    with pytest.raises(EacEncodingError):
        replace(body, chr="x" * 17).encode()
    with pytest.raises(EacEncodingError):
        replace(body, effective=date(1999, 12, 31)).encode()
    with pytest.raises(EacEncodingError):
        cvc.sign_certificate(replace(body, chat=Chat(Role.CVCA, 0)), PKI.cvca_key)
    with pytest.raises(EacEncodingError):
        Chat(Role.TERMINAL, 1 << 38)


def test_service_rights_match_the_spec_table() -> None:
    spec = (Path(__file__).resolve().parents[2] / "specs" / "eac.md").read_text("utf-8")
    names = {
        Rights.READ_NAME: "read name",
        Rights.READ_EXPIRY: "read expiry",
        Rights.READ_DATE_OF_BIRTH: "read date of birth",
        Rights.READ_GENDER: "read gender",
        Rights.RESTRICTED_IDENTIFICATION: "restricted identification",
        Rights.VALIDITY: "validity",
        Rights.AGE_VERIFICATION: "age verification",
    }
    for service, rights in cvc.SERVICE_RIGHTS.items():
        listed = ", ".join(text for flag, text in names.items() if flag in rights)
        assert f"| {service} | " in spec
        row = spec.split(f"| {service} | ", 1)[1].split(" |", 1)[0]
        assert sorted(row.split(", ")) == sorted(listed.split(", ")), service
    assert set(cvc.SERVICE_RIGHTS) == {"library", "transit", "museum", "age-check", "benefits"}
