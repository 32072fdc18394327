"""Random APDUs, plain and under a valid secure channel: the card answers, never raises."""

from __future__ import annotations

import random

from cityid_card.iso7816.errors import CardProtocolError
from cityid_card.iso7816.gen2.channel import LinkProcessor, SecureMessagingProcessor
from cityid_card.iso7816.gen2.terminal import pace_with_can, read_card_access
from tests.gen2.helpers import CAN, City

INS = (0x22, 0x86, 0xB0, 0x2A, 0x84, 0x82, 0x20, 0xA4, 0xDA, 0x47, 0x44)


def test_random_plain_apdus_get_a_status_word(city: City) -> None:
    rng = random.Random(5)
    application = city.card().application
    for index in range(3000):
        size = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 12, 20, 40, 300])
        apdu = bytes(rng.randrange(256) for _ in range(size))
        if size >= 4 and rng.random() < 0.6:
            apdu = bytes([rng.choice([0x00, 0x10, 0x0C, 0x80]), rng.choice(INS)]) + apdu[2:]
        answer = application.process(apdu)
        assert len(answer) >= 2
        if index % 100 == 0:
            application.reset()


def test_random_commands_under_secure_messaging_get_a_protected_answer(city: City) -> None:
    rng = random.Random(6)
    card = city.card()
    for _ in range(20):
        card.application.reset()
        link = LinkProcessor(card)
        read_card_access(link)
        keys, _ = pace_with_can(link, CAN, rng.randbytes)
        channel = SecureMessagingProcessor(link, keys)
        for _ in range(20):
            size = rng.choice([4, 5, 6, 9, 20, 70])
            body = bytes(rng.randrange(256) for _ in range(size - 2))
            plain = bytes([0x00, rng.choice(INS)]) + body
            try:
                _, sw = channel.send(plain)
            except CardProtocolError:
                break  # not a command APDU the terminal can protect
            assert sw != 0x9000 or plain[1] in (0xA4, 0xB0)


def test_a_read_without_le_is_a_wrong_length_not_a_crash(city: City) -> None:
    application = city.card().application
    assert application.process(bytes.fromhex("00B09C00")) == b"\x67\x00"
    assert application.process(bytes.fromhex("00B09C0001FF")) == b"\x67\x00"
