"""OpenPACE against the generation-2 card emulator and terminal, APDU by APDU (test-only peer).

OpenPACE's terminal runs PACE against the card emulator (``Gen2Application.process``),
then sends a command protected with OpenPACE's secure messaging; the project's
terminal session runs PACE against OpenPACE's card side behind an APDU processor. Both
on each point arithmetic of PACE (the ``arithmetic`` fixture).
"""

from __future__ import annotations

import random

from cityid_card.eac import pace, tlv
from cityid_card.eac._sym import pad
from cityid_card.eac.security_infos import CardAccess
from cityid_card.iso7816.gen2.terminal import pace_with_can, read_card_access
from tests.eac.openpace import OpenPace
from tests.gen2.helpers import City

OID = pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
ga = pace.dynamic_authentication_data


def _answer(card: object, apdu: bytes, tag: int | None) -> bytes:
    response = card.process(apdu)  # type: ignore[attr-defined]
    assert response[-2:] == b"\x90\x00"
    if tag is None:
        return b""
    return pace.parse_dynamic_authentication_data(response[:-2], (tag,))[tag]


def test_openpace_terminal_runs_pace_and_secure_messaging_with_the_card(
    arithmetic: str, openpace: OpenPace, city: City
) -> None:
    for can in ("500540", "000000", "987654"):
        connection = city.card(can=can)
        card = connection.application
        response = card.process(bytes.fromhex("00B09C0000"))
        card_access = response[:-2]
        assert CardAccess.decode(card_access) == CardAccess()
        with openpace.party() as terminal:
            terminal.init_card_access(card_access)
            _answer(card, bytes.fromhex("0022C1A40F800A04007F00070202040202830102"), None)
            terminal.decrypt_nonce(can, _answer(card, bytes.fromhex("10860000027C0000"), 0x80))
            mapping = terminal.mapping_data()
            command = (
                b"\x10\x86\x00\x00"
                + bytes([len(ga((0x81, mapping)))])
                + ga((0x81, mapping))
                + b"\x00"
            )
            terminal.map_generator(_answer(card, command, 0x82))
            ephemeral = terminal.ephemeral_key()
            command = (
                b"\x10\x86\x00\x00"
                + bytes([len(ga((0x83, ephemeral)))])
                + ga((0x83, ephemeral))
                + b"\x00"
            )
            card_public = _answer(card, command, 0x84)
            terminal.shared_secret(card_public)
            token = terminal.token(card_public)
            command = b"\x00\x86\x00\x00\x0c" + ga((0x85, token)) + b"\x00"
            assert terminal.verify_token(_answer(card, command, 0x86))
            # One command under OpenPACE's secure messaging: READ BINARY EF.CardAccess.
            terminal.start_sm()
            header = bytes.fromhex("0CB09C00")
            le = tlv.encode(0x97, b"\x00")
            mac = terminal.mac(1, pad(pad(header) + le))
            protected = header + bytes([len(le) + 10]) + le + tlv.encode(0x8E, mac) + b"\x00"
            response = card.process(protected)
            assert response[-2:] == b"\x90\x00"
            objects = dict(tlv.decode_all(response[:-2]))
            body = response[: response.index(b"\x8e\x08", len(response) - 12)]
            assert objects[0x8E] == terminal.mac(2, pad(body))
            plain = terminal.decrypt(2, objects[0x87][1:])
            assert plain[: len(card_access)] == card_access


class _OpenPaceCard:
    """A ByteProcessor whose card is OpenPACE's card side (PACE only)."""

    def __init__(self, party: object, can: str) -> None:
        self.party = party
        self.can = can
        self.apdus = 0

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        self.apdus += 1
        party = self.party
        ins, cla = apdu[1], apdu[0]
        if ins == 0xB0:
            return CardAccess().encode(), 0x9000
        if ins == 0x22:
            party.init_pace()  # type: ignore[attr-defined]
            return b"", 0x9000
        data = apdu[5 : 5 + apdu[4]]
        objects = dict(tlv.decode_all(tlv.expect(data, 0x7C)))
        if not objects:
            return ga((0x80, party.encrypt_nonce(self.can))), 0x9000  # type: ignore[attr-defined]
        if 0x81 in objects:
            mine = party.mapping_data()  # type: ignore[attr-defined]
            party.map_generator(objects[0x81])  # type: ignore[attr-defined]
            return ga((0x82, mine)), 0x9000
        if 0x83 in objects:
            self.ephemeral = party.ephemeral_key()  # type: ignore[attr-defined]
            party.shared_secret(objects[0x83])  # type: ignore[attr-defined]
            self.peer = objects[0x83]
            return ga((0x84, self.ephemeral)), 0x9000
        assert cla == 0x00 and 0x85 in objects
        if not party.verify_token(objects[0x85]):  # type: ignore[attr-defined]
            return b"", 0x6300
        return ga((0x86, party.token(self.peer))), 0x9000  # type: ignore[attr-defined]


def test_the_terminal_session_runs_pace_against_openpaces_card(
    arithmetic: str, openpace: OpenPace
) -> None:
    rng = random.Random(21)
    for _ in range(50):
        can = f"{rng.randrange(10**6):06d}"
        with openpace.party() as party:
            card = _OpenPaceCard(party, can)
            read_card_access(card)
            keys, _ = pace_with_can(card, can, rng.randbytes)
            assert len(keys.enc) == len(keys.mac) == 16
            assert card.apdus == 6
