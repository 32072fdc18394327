"""The PC/SC driver through the real stack: pyscard -> pcscd -> vsmartcard-vpcd -> emulator."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cityid_card import IssuerKey, TrustStore
from cityid_card.drivers import connect, list_readers, load_driver
from cityid_card.iso7816 import CardApplication, CardSession, personalize, verify_card
from cityid_card.iso7816.apdu import Ins
from cityid_card.iso7816.errors import CardProtocolError, CardRemoved
from cityid_card.media import ISO7816, Authenticity
from cityid_card.media.errors import DriverError, NoReader, TransportError, TransportTimeout
from tests.conftest import NOW, sample_credential

from .pcsc_stack import VPCD_READER, FaultyCard, PcscStack

pytestmark = pytest.mark.usefixtures("pcsc")


def test_readers_lists_the_vpcd_reader(pcsc: PcscStack) -> None:
    readers = load_driver("pcsc").readers()
    assert readers[0].uri == "pcsc:0"
    assert readers[0].name == VPCD_READER
    assert readers[0].card_present is False
    with pcsc.card(CardApplication()):
        assert load_driver("pcsc").readers()[0].card_present is True
        assert list_readers()["pcsc"][0].card_present is True  # type: ignore[index]


def test_personalise_read_verify_and_authenticate(
    pcsc: PcscStack, es256_key: IssuerKey, card_trust: TrustStore
) -> None:
    card = CardApplication()
    with pcsc.card(card):
        with connect("pcsc", kind=ISO7816, timeout=5) as connection:
            assert connection.reader == VPCD_READER
            blob, _ = personalize(
                connection, es256_key, sample_credential(), lock=True, today=NOW.date()
            )
        for uri in ("pcsc:0", "pcsc:virtual pcd 00 00"):
            with connect(uri, kind=ISO7816, timeout=5) as connection:
                session = CardSession(connection)
                result = verify_card(connection, card_trust, NOW, session=session)
            assert result.authenticity == Authenticity.CHIP_AUTHENTICATED
            assert result.locked is True
            assert result.credential.name == "Ana Sofia Rivera Delgado"
            assert session.apdus == 3
    assert card.state.ef == blob


def test_no_card_no_reader_is_a_typed_error_within_the_timeout(pcsc: PcscStack) -> None:
    with pytest.raises(NoReader, match="no card in 'Virtual PCD 00 00'"):
        load_driver("pcsc").open("0", timeout=0.3)
    with pytest.raises(NoReader, match="no PC/SC reader 7"):
        load_driver("pcsc").open("7", timeout=0.3)
    with pytest.raises(NoReader, match="contains 'Omnikey'"):
        load_driver("pcsc").open("Omnikey", timeout=0.3)


def test_card_removed_mid_read(pcsc: PcscStack, es256_key: IssuerKey) -> None:
    card = FaultyCard()
    with pcsc.card(card):
        with connect("pcsc:0", kind=ISO7816) as connection:
            personalize(connection, es256_key, sample_credential(), today=NOW.date())

        def pull_on_read(apdu: bytes) -> bytes | None:
            if apdu[1] == Ins.READ_BINARY:
                raise CardRemoved("pulled out")
            return None

        card.fault = pull_on_read
        with connect("pcsc:0", kind=ISO7816) as connection:
            session = CardSession(connection)
            session.select()
            with pytest.raises(CardRemoved):
                session.read_credential()
            with pytest.raises(TransportError):
                session.select()


def test_a_card_that_stops_answering_times_out(pcsc: PcscStack) -> None:
    card = FaultyCard()
    with pcsc.card(card):
        with connect("pcsc:0", kind=ISO7816, timeout=0.5) as connection:
            session = CardSession(connection)
            session.select()

            def hang(apdu: bytes) -> bytes | None:
                card.release.wait(30)
                return None

            card.fault = hang
            with pytest.raises(TransportTimeout, match=r"did not answer within 0\.5 s"):
                session.read_credential()
            with pytest.raises(TransportError, match="unusable"):
                session.select()
            card.fault = None
            card.release.set()
        # The stuck call returned once the card answered; the reader works again.
        card.release.clear()
        pcsc.wait_for_card(present=True)
        with connect("pcsc:0", kind=ISO7816, timeout=5) as connection:
            assert CardSession(connection).select().locked is False


def test_a_card_that_answers_garbage(pcsc: PcscStack, card_trust: TrustStore) -> None:
    card = FaultyCard()
    with pcsc.card(card):
        card.fault = lambda apdu: b"\x01"
        with connect("pcsc:0", kind=ISO7816) as connection, pytest.raises(CardProtocolError):
            verify_card(connection, card_trust, NOW)
        card.fault = lambda apdu: bytes(300) + b"\x90\x00"
        with connect("pcsc:0", kind=ISO7816) as connection, pytest.raises(CardProtocolError):
            verify_card(connection, card_trust, NOW)


def test_the_reader_vanishes(pcsc: PcscStack, tmp_path: Path) -> None:
    """pcscd goes away mid-session: a typed error, then no service at all (restarted after)."""
    with pcsc.card(CardApplication()), connect("pcsc:0", kind=ISO7816) as connection:
        session = CardSession(connection)
        session.select()
        pcsc.stop()
        with pytest.raises(TransportError):
            session.select()
    with pytest.raises(DriverError, match="is pcscd running"):
        load_driver("pcsc").readers()
    assert isinstance(list_readers()["pcsc"], DriverError)
    with pytest.raises(DriverError):
        connect("pcsc", kind=ISO7816, timeout=0.3).__enter__()
    pcsc.start()
    assert threading.active_count() < 50
