"""The medium seam: media found by link kind, drivers opening the kind asked for, readers kept open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from cityid_card import IssuerKey, TrustStore, media, type2
from cityid_card.credential import Credential
from cityid_card.drivers import connect, open_connection, open_reader
from cityid_card.media import Facts, Personalised, Reading, Verification, Written
from cityid_card.media.errors import UnsupportedMedium
from cityid_card.trust import TrustStore as Trust
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card.type2.session import write_tag
from cityid_card.verifier import Verifier
from cityid_card_nfc.driver import Type2Connection
from cityid_card_nfc.sim import emulated_reader
from tests.conftest import sample_credential

from .conftest import TODAY, UID


@dataclass
class _WalletLink:
    """A link of a kind the core does not know: what a phone wallet's driver would open."""

    kind: str = "wallet"
    reader: str = "test:wallet"
    uid: bytes | None = None

    def close(self) -> None:
        return None


class _Wallet:
    kind = "wallet"
    seals = False

    def __init__(self, link: _WalletLink) -> None:
        self.link = link

    def facts(self) -> Facts:
        return Facts(self.kind, reader=self.link.reader)

    def read(self, *, seal_key: bytes | None = None) -> Reading:
        raise NotImplementedError

    def verify(
        self,
        verifier: TrustStore | Verifier,
        now: datetime | date,
        *,
        seal_key: bytes | None = None,
    ) -> Verification:
        raise NotImplementedError

    def check_fits(self, credential_size: int, *, sealed: bool) -> None:
        raise NotImplementedError

    def check_blank(self) -> None:
        raise NotImplementedError

    def present(self) -> bool:
        return True

    def personalise(
        self,
        issuer: IssuerKey,
        credential: Credential,
        *,
        lock: bool,
        today: date,
        seal_key: bytes | None = None,
        open_record: bool = False,
    ) -> Personalised:
        raise NotImplementedError

    def write(
        self,
        blob: bytes,
        *,
        force: bool = False,
        lock: bool = False,
        verifier: TrustStore | Verifier | None = None,
        now: datetime | date | None = None,
        seal_key: bytes | None = None,
        open_record: bool = False,
    ) -> Written:
        raise NotImplementedError


def test_a_medium_registers_for_its_link_kind_and_is_found_by_it() -> None:
    with pytest.raises(UnsupportedMedium, match="no medium is registered"):
        media.medium_for(_WalletLink())
    media.register("wallet", _Wallet)
    try:
        found = media.medium_for(_WalletLink())
        assert found.kind == "wallet" and found.facts().reader == "test:wallet"
        assert {"iso7816", "type2", "wallet"} <= set(media.link_kinds())
    finally:
        media._FACTORIES.pop("wallet")


def test_a_driver_opens_the_link_kind_asked_for(tmp_path: Path) -> None:
    with connect("sim:ntag213", kind=media.TYPE2, timeout=0) as tag:
        assert tag.kind == "type2" and tag.product is type2.NTAG213
    with connect("sim:isodep", kind=media.ISO7816, timeout=0) as card:
        assert card.kind == "iso7816" and card.uid is not None
    with pytest.raises(UnsupportedMedium, match="holds an NFC Type 2 tag, not a chip card"):
        open_connection("sim:ntag213", kind=media.ISO7816, timeout=0)
    with pytest.raises(UnsupportedMedium, match="not an NFC Type 2 tag"):
        open_connection("sim:card", kind=media.TYPE2)
    with connect("sim:card") as link:  # no kind asked: whatever the reader holds
        assert media.medium_for(link).kind == "chip_card"


def test_an_nfc_reader_stays_open_between_taps(es256: IssuerKey) -> None:
    trust = Trust([es256.public()])
    first = EmulatedNtag(type2.NTAG213, uid=UID)
    reader = emulated_reader(first)
    try:
        frontend = reader.frontend
        tap = reader.open_connection(kind=media.TYPE2, timeout=0)
        assert isinstance(tap, Type2Connection)
        write_tag(tap, es256.issue(sample_credential()), open_record=True)
        tap.close()
        assert reader.frontend.device is not None  # closing a tap leaves the reader open
        second = EmulatedNtag(type2.NTAG215)
        other = emulated_reader(second).open_connection(kind=media.TYPE2, timeout=0)
        assert isinstance(other, Type2Connection)
        write_tag(
            other, es256.issue(sample_credential(name="Bea Quinta Plimsoll Ruiz")), open_record=True
        )
        frontend.device.tag = second  # the next card presented to the same reader
        again = media.medium_for(reader.open_connection(timeout=0))
        assert again.verify(trust, TODAY).credential.name == "Bea Quinta Plimsoll Ruiz"
        assert reader.frontend is frontend and frontend.device.senses >= 2
        frontend.device.tag = first
        back = media.medium_for(reader.open_connection(kind=media.TYPE2, timeout=0))
        assert back.verify(trust, TODAY).facts.product == "NTAG213"
    finally:
        reader.close()


def test_the_sim_card_reader_is_the_same_card_at_every_tap(es256: IssuerKey) -> None:
    reader = open_reader("sim:card")
    try:
        card = media.medium_for(reader.open_connection(kind=media.ISO7816))
        card.personalise(es256, sample_credential(), lock=True, today=TODAY)
        tap = reader.open_connection()
        verified = media.medium_for(tap).verify(Trust([es256.public()]), TODAY)
        assert verified.locked is True and verified.facts.reader == "sim:card"
    finally:
        reader.close()


def test_open_reader_on_an_nfc_emulator_keeps_one_frontend_and_one_tag(es256: IssuerKey) -> None:
    reader = open_reader("sim:ntag213")
    try:
        first = reader.open_connection(kind=media.TYPE2, timeout=0)
        media.medium_for(first).write(es256.issue(sample_credential()), open_record=True)
        first.close()
        second = reader.open_connection(kind=media.TYPE2, timeout=0)
        assert second.uid == first.uid  # the same tag, tapped again
        read = media.medium_for(second).read()
        assert read.facts.reader == "sim:ntag213" and read.facts.exchanges == 1
        with pytest.raises(UnsupportedMedium):
            reader.open_connection(kind=media.ISO7816, timeout=0)
    finally:
        reader.close()


def test_whether_a_medium_seals_is_asked_of_the_medium_and_a_chip_card_refuses_a_seal_key(
    es256: IssuerKey,
) -> None:
    """The CLI and the station ask ``medium.seals``; a seal key for a chip card is refused
    by the card's medium itself, on every operation that takes one."""
    trust = Trust([es256.public()])
    with connect("sim:card") as link:
        card = media.medium_for(link)
        assert card.seals is False
        card.check_fits(300, sealed=False)
        with pytest.raises(UnsupportedMedium, match="chip card"):
            card.check_fits(300, sealed=True)
        with pytest.raises(UnsupportedMedium, match="chip card"):
            card.read(seal_key=bytes(16))
        with pytest.raises(UnsupportedMedium, match="chip card"):
            card.verify(trust, TODAY, seal_key=bytes(16))
    with connect("sim:ntag215") as link:
        assert media.medium_for(link).seals is True
