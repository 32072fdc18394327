"""The chip card as a :class:`~cityid_card.media.Medium`, registered for ISO 7816 links.

A contact card in a PC/SC reader and a contactless card (or phone) over ISO-DEP are the
same medium: the card application of ``specs/card-application.md`` behind APDUs. Over
ISO-DEP the link also reports the UID, so a credential bound to a UID is checked
against it (never claimed without that check).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, cast

from cityid_card import media
from cityid_card.credential import Credential
from cityid_card.iso7816.errors import BlankCard, CardAuthenticationError, CardLocked, CardNotBlank
from cityid_card.keys import IssuerKey
from cityid_card.media import Authenticity, Facts, Personalised, Reading, Verification, Written
from cityid_card.media.errors import (
    MediumError,
    PersonalizationError,
    TransportError,
    UnsupportedMedium,
)
from cityid_card.trust import TrustStore
from cityid_card.verifier import Verifier

from .session import MAX_CREDENTIAL_BYTES, CardSession, personalize, verify_card

if TYPE_CHECKING:
    from cityid_card.drivers import ReaderConnection

__all__ = ["ChipCard"]


class ChipCard:
    """A card with the cityid-card application, over contacts or ISO-DEP."""

    kind = "chip_card"
    seals = False

    def __init__(self, link: ReaderConnection) -> None:
        self._link = link

    def _refuse_sealing(self, sealing: bool) -> None:
        if sealing:
            raise UnsupportedMedium(
                f"{self._link.reader} holds a chip card: seal_key seals an NFC tag's record"
            )

    def facts(self) -> Facts:
        return Facts(self.kind, reader=self._link.reader, uid=self._link.uid)

    def _with_link(self, facts: Facts) -> Facts:
        return replace(facts, reader=self._link.reader, uid=self._link.uid)

    def read(self, *, seal_key: bytes | None = None) -> Reading:
        self._refuse_sealing(seal_key is not None)
        session = CardSession(self._link)
        locked = session.select().locked
        blob = session.read_credential()
        return Reading(
            blob,
            replace(self.facts(), locked=locked, exchanges=session.apdus, unit="APDU"),
        )

    def verify(
        self,
        verifier: TrustStore | Verifier,
        now: datetime | date,
        *,
        seal_key: bytes | None = None,
    ) -> Verification:
        self._refuse_sealing(seal_key is not None)
        result = verify_card(self._link, verifier, now)
        result = replace(result, facts=self._with_link(result.facts))
        tag_uid = result.credential.tag_uid
        uid = self._link.uid
        if tag_uid is None or uid is None:
            return result
        if tag_uid != uid:
            raise CardAuthenticationError(
                "the credential is bound to another card's UID: it was copied"
            )
        return replace(result, authenticity=max(result.authenticity, Authenticity.TAG_UID_BOUND))

    def check_fits(self, credential_size: int, *, sealed: bool) -> None:
        self._refuse_sealing(sealed)
        if credential_size > MAX_CREDENTIAL_BYTES:
            raise PersonalizationError(
                f"a chip card holds a credential of at most {MAX_CREDENTIAL_BYTES} bytes"
            )

    def check_blank(self) -> None:
        session = CardSession(self._link)
        if session.select().locked:
            raise CardLocked("the card is locked: it was personalised for good already")
        try:
            session.read_credential()
        except BlankCard:
            return
        raise CardNotBlank("the card already holds a credential: it is refused, not overwritten")

    def present(self) -> bool:
        try:
            CardSession(self._link).select()
        except TransportError:
            return False
        except MediumError:
            return True  # it answered, with an error status: a blank or foreign card
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
        self._refuse_sealing(seal_key is not None)
        blob, result = personalize(self._link, issuer, credential, lock=lock, today=today)
        return Personalised(blob, replace(result, facts=self._with_link(result.facts)), lock)

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
        raise UnsupportedMedium(
            f"{self._link.reader} holds a chip card, not an NFC tag: a chip card's "
            "credential binds its own key, so it is personalised (cityid-card personalize)"
        )


def _chip_card(link: object) -> ChipCard:
    return ChipCard(cast("ReaderConnection", link))


media.register(media.ISO7816, _chip_card)
