"""A whole PACE run between the library's terminal and card steps, as General Authenticate bytes."""

from __future__ import annotations

import random
from dataclasses import dataclass

from cityid_card.eac import P256, Curve, SessionKeys, pace

OID = pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128


@dataclass(frozen=True)
class Randomness:
    """Everything random in a PACE run: the card's nonce and the four private keys."""

    nonce: bytes
    map_pcd: int
    map_picc: int
    eph_pcd: int
    eph_picc: int

    @classmethod
    def draw(cls, rng: random.Random, curve: Curve = P256) -> Randomness:
        def scalar() -> int:
            return rng.randrange(1, curve.n)

        return cls(rng.randbytes(16), scalar(), scalar(), scalar(), scalar())


@dataclass(frozen=True)
class Transcript:
    """The General Authenticate data fields exchanged, and each side's session keys."""

    messages: list[bytes]
    terminal_keys: SessionKeys
    card_keys: SessionKeys
    points: list[bytes]


def run_pace(terminal_can: str, card_can: str, r: Randomness, curve: Curve = P256) -> Transcript:
    """Both sides of PACE; raises AuthenticationFailed when the card rejects T_PCD."""
    ga = pace.dynamic_authentication_data
    parse = pace.parse_dynamic_authentication_data
    messages: list[bytes] = []

    # 1. The card encrypts its nonce; the terminal decrypts it.
    messages += [ga(), ga((0x80, pace.encrypt_nonce(card_can, r.nonce)))]
    nonce = pace.decrypt_nonce(terminal_can, parse(messages[-1], (0x80,))[0x80])
    # 2. Mapping keys; both map the generator.
    messages.append(ga((0x81, curve.public_key(r.map_pcd))))
    messages.append(ga((0x82, curve.public_key(r.map_picc))))
    card_generator = pace.map_generator(
        curve, r.nonce, r.map_picc, parse(messages[-2], (0x81,))[0x81]
    )
    terminal_generator = pace.map_generator(
        curve, nonce, r.map_pcd, parse(messages[-1], (0x82,))[0x82]
    )
    # 3. Ephemeral keys on the mapped generator; both derive K and the session keys.
    pcd_public = pace.public_key_on(curve, terminal_generator, r.eph_pcd)
    picc_public = pace.public_key_on(curve, card_generator, r.eph_picc)
    messages += [ga((0x83, pcd_public)), ga((0x84, picc_public))]
    card_keys = pace.session_keys(
        pace.shared_secret(curve, r.eph_picc, picc_public, parse(messages[-2], (0x83,))[0x83])
    )
    terminal_keys = pace.session_keys(
        pace.shared_secret(curve, r.eph_pcd, pcd_public, parse(messages[-1], (0x84,))[0x84])
    )
    # 4. Tokens: the card checks T_PCD first, then the terminal checks T_PICC.
    messages.append(ga((0x85, pace.authentication_token(terminal_keys.mac, OID, picc_public))))
    pace.verify_authentication_token(
        card_keys.mac, OID, picc_public, parse(messages[-1], (0x85,))[0x85]
    )
    messages.append(ga((0x86, pace.authentication_token(card_keys.mac, OID, pcd_public))))
    pace.verify_authentication_token(
        terminal_keys.mac, OID, pcd_public, parse(messages[-1], (0x86,))[0x86]
    )
    points = [
        curve.public_key(r.map_pcd),
        curve.public_key(r.map_picc),
        terminal_generator,
        pcd_public,
        picc_public,
    ]
    return Transcript(messages, terminal_keys, card_keys, points)


def has_leading_zero_coordinate(point: bytes, curve: Curve = P256) -> bool:
    """Whether X or Y of an uncompressed point starts with a zero byte."""
    return point[1] == 0 or point[1 + curve.size] == 0
