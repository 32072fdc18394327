"""Terminal Authentication, Chip Authentication and Restricted Identification against OpenPACE."""

from __future__ import annotations

import random
from datetime import date

from cryptography.hazmat.primitives import serialization

from cityid_card.eac import P256, ca, ri, sm, ta
from cityid_card.eac._sym import pad
from cityid_card.eac.security_infos import CardAccess
from tests.eac.openpace import EAC_ID_CA, OpenPace
from tests.eac.pki import make_pki, public

PKI = make_pki()
AUX = ta.auxiliary_data(date_of_birth=date(2005, 12, 5), date_of_expiry=date(2027, 1, 15))


def scalar_bytes(value: int) -> bytes:
    return value.to_bytes(32, "big")


def ta_inputs(rng: random.Random) -> tuple[bytes, bytes, bytes]:
    id_picc = ta.compress(P256, P256.public_key(rng.randrange(1, P256.n)))
    comp_epk = ta.compress(P256, P256.public_key(rng.randrange(1, P256.n)))
    return id_picc, rng.randbytes(8), comp_epk


def test_openpace_card_verifies_the_librarys_chain_and_ta_signature(openpace: OpenPace) -> None:
    rng = random.Random(21)
    for aux in (AUX, b""):
        with openpace.party() as card:
            card.init_ta(None, PKI.cvca)
            card.disable_time_checks()  # OpenPACE would read the clock; dates are tested above
            assert card.import_certificate(PKI.dv)
            assert card.import_certificate(PKI.terminal)
            id_picc, challenge, comp_epk = ta_inputs(rng)
            message = ta.signature_input(id_picc, challenge, comp_epk, aux)
            signature = ta.sign(PKI.terminal_key, message)
            assert card.ta_verify(challenge, comp_epk, id_picc, aux, signature)
            forged = ta.sign(make_pki(label="other").terminal_key, message)
            assert not card.ta_verify(challenge, comp_epk, id_picc, aux, forged)


def test_openpace_card_rejects_a_chain_from_another_root(openpace: OpenPace) -> None:
    other = make_pki(label="other")
    with openpace.party() as card:
        card.init_ta(None, PKI.cvca)
        card.disable_time_checks()
        assert not card.import_certificate(other.dv)


def test_library_card_verifies_an_openpace_terminals_signature(openpace: OpenPace) -> None:
    rng = random.Random(22)
    key = PKI.terminal_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for aux in (AUX, b""):
        with openpace.party() as terminal:
            terminal.init_ta(key, PKI.terminal)
            id_picc, challenge, comp_epk = ta_inputs(rng)
            signature = terminal.ta_sign(challenge, comp_epk, id_picc, aux)
            message = ta.signature_input(id_picc, challenge, comp_epk, aux)
            ta.verify(public(PKI.terminal_key), message, signature)


def test_chip_authentication_with_an_openpace_card(openpace: OpenPace) -> None:
    rng = random.Random(23)
    for _ in range(50):
        chip_private = rng.randrange(1, P256.n)
        chip_public = P256.public_key(chip_private)
        eph_private = rng.randrange(1, P256.n)
        eph_public = P256.public_key(eph_private)
        with openpace.party() as card:
            card.init_ca()
            nonce, token = card.ca_card(scalar_bytes(chip_private), chip_public, eph_public)
            keys = ca.terminal_step(P256, eph_private, eph_public, chip_public, nonce, token)
            card.start_sm(EAC_ID_CA)
            # Secure messaging restarts with the CA keys: both MAC a response alike.
            wrapped = sm.wrap_response(keys, 1, b"", 0x9000)
            assert card.mac(1, pad(bytes.fromhex("99029000"))) == wrapped[6:14]


def test_chip_authentication_with_an_openpace_terminal(openpace: OpenPace) -> None:
    rng = random.Random(24)
    for _ in range(50):
        chip_private = rng.randrange(1, P256.n)
        eph_private = rng.randrange(1, P256.n)
        eph_public = P256.public_key(eph_private)
        nonce = rng.randbytes(8)
        _, token = ca.card_step(P256, chip_private, eph_public, nonce)
        with openpace.party() as terminal:
            terminal.init_ca()
            assert terminal.ca_terminal(
                scalar_bytes(eph_private), eph_public, P256.public_key(chip_private), nonce, token
            )
        with openpace.party() as terminal:
            terminal.init_ca()
            assert not terminal.ca_terminal(
                scalar_bytes(eph_private),
                eph_public,
                P256.public_key(chip_private + 1),
                nonce,
                token,
            )


def test_restricted_identification_matches_openpace(openpace: OpenPace) -> None:
    rng = random.Random(25)
    sector_public = P256.public_key(rng.randrange(1, P256.n))
    # One card key whose ECDH x-coordinate with the sector key starts with a zero byte.
    leading = next(k for k in range(1, 10_000) if P256.ecdh_x(k, sector_public)[0] == 0)
    for sk_id in [leading, *(rng.randrange(1, P256.n) for _ in range(50))]:
        with openpace.party() as card:
            card.set_ri_key(scalar_bytes(sk_id), P256.public_key(sk_id))
            assert card.sector_identifier(sector_public) == ri.sector_identifier(
                P256, sk_id, sector_public
            )


def test_openpace_takes_chip_authentication_from_ef_card_access(openpace: OpenPace) -> None:
    """OpenPACE's CA context set up from the library's EF.CardAccess alone runs CA."""
    rng = random.Random(26)
    for key_id in (None, 1):
        chip_private = rng.randrange(1, P256.n)
        chip_public = P256.public_key(chip_private)
        eph_private = rng.randrange(1, P256.n)
        eph_public = P256.public_key(eph_private)
        with openpace.party() as card:
            card.init_card_access(CardAccess(key_id).encode())
            nonce, token = card.ca_card(scalar_bytes(chip_private), chip_public, eph_public)
        keys = ca.terminal_step(P256, eph_private, eph_public, chip_public, nonce, token)
        assert keys == ca.card_step(P256, chip_private, eph_public, nonce)[0]
