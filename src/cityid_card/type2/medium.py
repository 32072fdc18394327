"""The NFC Type 2 tag as a :class:`~cityid_card.media.Medium`, registered for Type 2 links.

An NTAG213/215/216 (or any Type 2 tag, read only) holding the credential as one NDEF
record (``specs/ndef-mapping.md``). Personalising a tag binds the credential to its
UID; writing takes a credential issued elsewhere (``cityid-card write``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Protocol, cast

from cityid_card import media
from cityid_card.credential import Credential
from cityid_card.keys import IssuerKey
from cityid_card.media import Facts, Personalised, Reading, Verification, Written
from cityid_card.media.errors import MediumError, TransportError
from cityid_card.trust import TrustStore
from cityid_card.type2.errors import TagLocked, TagNotBlank, UnsupportedTag
from cityid_card.verifier import Verifier

from . import memory
from .session import (
    Contents,
    TagLink,
    TagSession,
    check_capacity,
    personalize_tag,
    verify_tag,
    write_tag,
)

__all__ = ["NfcTag", "TagInReader"]


class TagInReader(TagLink, Protocol):
    """A tag link as a driver opens it: a :class:`TagLink` that is also a
    :class:`~cityid_card.media.Link` of kind ``type2``."""

    @property
    def kind(self) -> str: ...

    @property
    def reader(self) -> str: ...

    def close(self) -> None: ...


class NfcTag:
    """A Type 2 tag in a reader's field.

    ``originality_keys`` are the manufacturer keys originality signatures are checked
    against (NXP's by default; a test or demo passes the emulators' key).
    """

    kind = "nfc_tag"
    seals = True

    def __init__(
        self,
        link: TagInReader,
        *,
        originality_keys: Iterable[bytes] = memory.NXP_ORIGINALITY_KEYS,
    ) -> None:
        self._link = link
        self._originality_keys = tuple(originality_keys)

    def facts(self) -> Facts:
        product = self._link.product
        return Facts(
            self.kind,
            reader=self._link.reader,
            product="Type 2 tag" if product is None else product.name,
            uid=self._link.uid,
            unit="frame",
        )

    def _with_reader(self, facts: Facts) -> Facts:
        return replace(facts, reader=self._link.reader)

    def read(self, *, seal_key: bytes | None = None) -> Reading:
        """The tag's credential, unverified (a sealed one opened with ``seal_key``)."""
        session = TagSession(self._link)
        blob = session.read_credential(seal_key)
        return Reading(blob, self._with_reader(session.facts(None)))

    def verify(
        self,
        verifier: TrustStore | Verifier,
        now: datetime | date,
        *,
        seal_key: bytes | None = None,
    ) -> Verification:
        """Verify the tag's credential (a sealed one opened with ``seal_key``)."""
        result = verify_tag(
            self._link,
            verifier,
            now,
            originality_keys=self._originality_keys,
            seal_key=seal_key,
        )
        return replace(result, facts=self._with_reader(result.facts))

    def check_blank(self) -> None:
        if self._link.product is None:
            raise UnsupportedTag("the tag is not an NTAG213, NTAG215 or NTAG216")
        session = TagSession(self._link)
        contents = session.contents()
        if contents is Contents.CREDENTIAL:
            raise TagNotBlank("the tag already holds a credential: it is refused, not overwritten")
        if contents is Contents.FOREIGN:
            raise TagNotBlank("the tag holds other data: it is refused, not overwritten")
        session.read_lock_bytes()
        state = session.lock_state()
        if state is not None and (state.capability_container_read_only or state.locked_pages):
            raise TagLocked("the tag is read-only: its lock bits or capability container say so")

    def check_fits(self, credential_size: int, *, sealed: bool) -> None:
        """Raise TagCapacityError, before anything is written, if such a credential does not fit.

        ``sealed``: as a sealed record, which needs an NTAG215 or NTAG216. UnsupportedTag
        for a tag that is no NTAG213, NTAG215 or NTAG216.
        """
        product = self._link.product
        if product is None:
            raise UnsupportedTag("the tag is not an NTAG213, NTAG215 or NTAG216")
        check_capacity(product, credential_size, sealed=sealed)

    def present(self) -> bool:
        try:
            self._link.command(memory.read(0))
        except TransportError:
            return False
        except MediumError:
            return True  # an odd answer (a NAK) is still an answer
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
        """Issue and write a credential bound to this tag, sealed under ``seal_key``.

        ``open_record=True`` instead writes it open, readable by any tap; one of the two
        is required (RecordChoiceError, before anything is signed or written).
        """
        blob, written = personalize_tag(
            self._link,
            issuer,
            credential,
            lock=lock,
            today=today,
            seal_key=seal_key,
            open_record=open_record,
        )
        verification = written.verification
        assert verification is not None  # personalize_tag always verifies
        return Personalised(
            blob, replace(verification, facts=self._with_reader(verification.facts)), lock
        )

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
        """Write a credential sealed under ``seal_key``, or open (any tap reads it) with
        ``open_record=True``; one of the two is required (RecordChoiceError)."""
        written = write_tag(
            self._link,
            blob,
            force=force,
            lock=lock,
            trust=verifier,
            now=now,
            originality_keys=self._originality_keys,
            seal_key=seal_key,
            open_record=open_record,
        )
        verification = written.verification
        if verification is not None:
            verification = replace(verification, facts=self._with_reader(verification.facts))
        return replace(written, facts=self._with_reader(written.facts), verification=verification)


def _nfc_tag(link: object) -> NfcTag:
    return NfcTag(cast(TagInReader, link))


media.register(media.TYPE2, _nfc_tag)
