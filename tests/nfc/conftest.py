"""Fixtures for the NFC tests: emulated tags under a real nfcpy ContactlessFrontend.

Every tag test goes through nfcpy's own activation, tag identification and transceive
code: the emulators sit at nfcpy's device-driver seam (cityid_card_nfc.emulator).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cityid_card import IssuerKey, TrustStore, type2
from cityid_card.iso7816.isodep import EmulatedIsoDep
from cityid_card.media import TYPE2
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card_nfc.driver import IsoDepConnection, NfcConnection, Type2Connection
from cityid_card_nfc.sim import open_emulated
from tests.conftest import NOW, sample_credential

#: A day on which sample_credential() is valid.
TODAY = NOW.date()
UID = bytes.fromhex("04a1b2c3d4e5f6")


def tag_link(connection: NfcConnection) -> Type2Connection:
    assert connection.kind == TYPE2 and isinstance(connection, Type2Connection)
    return connection


class Field:
    """Opens emulated tags under nfcpy and closes every connection at the end of a test."""

    def __init__(self) -> None:
        self.connections: list[NfcConnection] = []

    def open(self, tag: Any, **options: Any) -> NfcConnection:
        connection = open_emulated(tag, **options)
        self.connections.append(connection)
        return connection

    def tag(self, tag: EmulatedNtag, **options: Any) -> Type2Connection:
        return tag_link(self.open(tag, **options))

    def card(self, card: EmulatedIsoDep, **options: Any) -> IsoDepConnection:
        connection = self.open(card, **options)
        assert isinstance(connection, IsoDepConnection)
        return connection

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


@pytest.fixture
def field() -> Iterator[Field]:
    opened = Field()
    yield opened
    opened.close()


@pytest.fixture
def ntag213() -> EmulatedNtag:
    return EmulatedNtag(type2.NTAG213, uid=UID)


@pytest.fixture
def es256() -> IssuerKey:
    return IssuerKey.generate("ES256", kid="CHI-NFC-1")


@pytest.fixture
def es256_trust(es256: IssuerKey) -> TrustStore:
    return TrustStore([es256.public()])


@pytest.fixture
def reference(es256: IssuerKey) -> bytes:
    """The 120-byte worst case: 24-character name, 5-byte status index."""
    return es256.issue(sample_credential(status_index=2**32 - 1))
