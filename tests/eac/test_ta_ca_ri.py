"""Terminal Authentication, Chip Authentication and Restricted Identification on P-256."""

from __future__ import annotations

import hashlib
import random
from datetime import date

import pytest

from cityid_card.eac import P256, AuthenticationFailed, EacEncodingError, InvalidPoint, ca, ri, ta
from tests.eac.pki import make_pki, public

PKI = make_pki()


def test_ta_signature_round_trip_and_binding() -> None:
    rng = random.Random(5)
    id_picc = ta.compress(P256, P256.public_key(rng.randrange(1, P256.n)))
    epk = P256.public_key(rng.randrange(1, P256.n))
    aux = ta.auxiliary_data(date_of_birth=date(2005, 12, 5), date_of_expiry=date(2027, 1, 15))
    message = ta.signature_input(id_picc, rng.randbytes(8), ta.compress(P256, epk), aux)
    signature = ta.sign(PKI.terminal_key, message)
    assert len(signature) == 64
    ta.verify(public(PKI.terminal_key), message, signature)
    for bad_message, bad_signature in [
        (message[:-1] + bytes([message[-1] ^ 1]), signature),
        (message, signature[:-1] + bytes([signature[-1] ^ 1])),
        (message, signature[:63]),
        (message, bytes(64)),
    ]:
        with pytest.raises(AuthenticationFailed):
            ta.verify(public(PKI.terminal_key), bad_message, bad_signature)
    with pytest.raises(AuthenticationFailed):
        ta.verify(public(PKI.dv_key), message, signature)


def test_ta_signature_input_layout() -> None:
    message = ta.signature_input(b"\x11" * 32, b"\x22" * 8, b"\x33" * 32)
    assert message == b"\x11" * 32 + b"\x22" * 8 + b"\x33" * 32
    with pytest.raises(EacEncodingError):
        ta.signature_input(b"\x11" * 32, b"\x22" * 7, b"\x33" * 32)
    with pytest.raises(EacEncodingError):
        ta.signature_input(b"\x11" * 31, b"\x22" * 8, b"\x33" * 32)


def test_compress_keeps_a_leading_zero() -> None:
    private = next(k for k in range(1, 100_000) if P256.public_key(k)[1] == 0)
    assert ta.compress(P256, P256.public_key(private))[0] == 0
    assert len(ta.compress(P256, P256.public_key(private))) == 32


def test_auxiliary_data_encoding_and_parsing() -> None:
    aux = ta.auxiliary_data(date_of_birth=date(2005, 12, 5))
    assert aux.hex() == "67177315060904007f0007030104015308" + b"20051205".hex()
    assert ta.parse_auxiliary_data(aux) == {ta.ID_DATE_OF_BIRTH: date(2005, 12, 5)}
    assert ta.auxiliary_data() == b""
    both = ta.auxiliary_data(date(2005, 12, 5), date(2027, 1, 1))
    assert ta.parse_auxiliary_data(both)[ta.ID_DATE_OF_EXPIRY] == date(2027, 1, 1)
    for bad in [
        aux.replace(b"20051205", b"20051305"),
        aux.replace(b"20051205", b"2005120x"),
        aux[:2] + bytes([0x74]) + aux[3:],
        both.replace(b"\x04\x02", b"\x04\x01"),  # the same check twice
        bytes.fromhex("6700"),
    ]:
        with pytest.raises(EacEncodingError):
            ta.parse_auxiliary_data(bad)


def test_ta_mse_set_at_round_trip() -> None:
    aux = ta.auxiliary_data(date_of_expiry=date(2027, 1, 15))
    data = ta.mse_set_at("USCHILIBDSK00001", b"\x44" * 32, aux)
    assert data.startswith(bytes.fromhex("800a04007f00070202020203" + "8310"))
    assert ta.parse_mse_set_at(data) == ("USCHILIBDSK00001", b"\x44" * 32, aux)
    assert ta.parse_mse_set_at(ta.mse_set_at("X", b"\x44" * 32)) == ("X", b"\x44" * 32, b"")


def test_chip_authentication_round_trip_over_the_data_objects() -> None:
    rng = random.Random(6)
    chip_private = rng.randrange(1, P256.n)
    chip_public = P256.public_key(chip_private)
    eph_private = rng.randrange(1, P256.n)
    eph_public = P256.public_key(eph_private)
    command = ca.command_data(eph_public)
    nonce = rng.randbytes(8)
    card_keys, token = ca.card_step(P256, chip_private, ca.parse_command_data(command), nonce)
    reply = ca.response_data(nonce, token)
    assert reply[:4] == bytes.fromhex("7c148108")
    terminal_keys = ca.terminal_step(
        P256, eph_private, eph_public, chip_public, *ca.parse_response_data(reply)
    )
    assert terminal_keys == card_keys
    # Another chip (a clone without the private key) cannot produce the token.
    _, forged = ca.card_step(P256, chip_private + 1, eph_public, nonce)
    with pytest.raises(AuthenticationFailed):
        ca.terminal_step(P256, eph_private, eph_public, chip_public, nonce, forged)
    assert ca.mse_set_at() == bytes.fromhex("800a04007f00070202030202")
    assert ca.mse_set_at(1).endswith(bytes.fromhex("840101"))
    with pytest.raises(EacEncodingError):
        ca.session_keys(bytes(32), bytes(7))
    with pytest.raises(InvalidPoint):
        ca.card_step(P256, chip_private, b"\x04" + bytes(64), nonce)


def test_restricted_identification_is_stable_per_sector_and_unlinkable_across() -> None:
    rng = random.Random(7)
    card_a, card_b = rng.randrange(1, P256.n), rng.randrange(1, P256.n)
    library = P256.public_key(rng.randrange(1, P256.n))
    transit = P256.public_key(rng.randrange(1, P256.n))
    a_library = ri.sector_identifier(P256, card_a, library)
    assert len(a_library) == 32
    assert ri.sector_identifier(P256, card_a, library) == a_library
    assert ri.sector_identifier(P256, card_a, transit) != a_library
    assert ri.sector_identifier(P256, card_b, library) != a_library
    command = ri.command_data(library)
    assert command.hex().startswith("7c51a04f060a04007f00070202050203864104")
    assert ri.parse_command_data(P256, command) == library
    assert ri.parse_response_data(ri.response_data(a_library)) == a_library
    with pytest.raises(EacEncodingError):
        ri.parse_response_data(ri.response_data(a_library[:31]))
    with pytest.raises(InvalidPoint):
        ri.parse_command_data(P256, ri.command_data(b"\x04" + bytes(64)))


def test_restricted_identification_is_the_hash_of_the_ecdh_x_coordinate() -> None:
    rng = random.Random(8)
    sk_id, sk_sector = rng.randrange(1, P256.n), rng.randrange(1, P256.n)
    # The sector can compute it too, from its private key and the card's public ID key.
    from_sector = hashlib.sha256(P256.ecdh_x(sk_sector, P256.public_key(sk_id))).digest()
    assert ri.sector_identifier(P256, sk_id, P256.public_key(sk_sector)) == from_sector
