"""The APDU processor chain: response chaining below the card session, room for a secure channel."""

from __future__ import annotations

import pytest

from cityid_card import IssuerKey, TrustStore
from cityid_card.drivers import SimConnection
from cityid_card.iso7816 import CardApplication, CardSession, personalize, verify_card
from cityid_card.iso7816.apdu import CommandApdu, Ins, read_binary
from cityid_card.iso7816.errors import CardProtocolError
from cityid_card.iso7816.processors import (
    ApduProcessor,
    ChainedResponseProcessor,
    ConnectionProcessor,
)
from cityid_card.media import Authenticity
from tests.conftest import NOW, sample_credential

from .conftest import ScriptedConnection


def test_response_chaining_fetches_61xx_and_repeats_6cxx() -> None:
    script = ScriptedConnection([(b"\x01\x02", 0x6102), (b"\x03\x04", 0x9000)])
    link = ConnectionProcessor(script)
    data, sw = ChainedResponseProcessor(link).send(read_binary(0, sfi=True))
    assert (data, sw, link.apdus) == (b"\x01\x02\x03\x04", 0x9000, 2)
    assert script.sent[1] == bytes.fromhex("00C0000002")  # GET RESPONSE, Le = 2
    script = ScriptedConnection([(b"", 0x6C05), (b"\x6f\x03\x8a\x01\x05", 0x9000)])
    data, sw = ChainedResponseProcessor(ConnectionProcessor(script)).send(
        CommandApdu(0x00, Ins.SELECT, 0x04, 0x00, b"\xf0", le=256)
    )
    assert sw == 0x9000 and script.sent[1][-1] == 0x05  # the same command, Le = 5
    endless = ScriptedConnection([(b"\x00", 0x6101)] * 20)
    with pytest.raises(CardProtocolError, match="never ends"):
        ChainedResponseProcessor(ConnectionProcessor(endless), max_rounds=3).send(
            read_binary(0, sfi=True)
        )


class _Recording:
    """A layer around the chain, as a secure messaging processor will be: sees every command."""

    def __init__(self, inner: ApduProcessor) -> None:
        self.inner = inner
        self.instructions: list[int] = []

    def send(self, command: CommandApdu) -> tuple[bytes, int]:
        self.instructions.append(command.ins)
        return self.inner.send(command)


def test_a_layer_wraps_the_chain_without_the_application_knowing(es256: IssuerKey) -> None:
    application = CardApplication()
    personalize(SimConnection(application), es256, sample_credential(), today=NOW.date())
    card = SimConnection(application)
    session = CardSession(card)
    layers: list[_Recording] = []

    def wrap(inner: ApduProcessor) -> ApduProcessor:
        layers.append(_Recording(inner))
        return layers[0]

    session.add_processor(wrap)
    result = verify_card(card, TrustStore([es256.public()]), NOW, session=session)
    assert result.authenticity is Authenticity.CHIP_AUTHENTICATED
    assert layers[0].instructions == [Ins.SELECT, Ins.READ_BINARY, Ins.INTERNAL_AUTHENTICATE]
    assert session.apdus == 3


@pytest.fixture
def es256() -> IssuerKey:
    return IssuerKey.generate("ES256", kid="CHI-PROC-1")
