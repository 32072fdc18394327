"""The one seam between the verifier and every medium a credential travels on.

A **medium** is a kind of card in a reader (a chip card over ISO 7816, an NFC Type 2
tag, later a phone wallet); a **link** is what a driver opened to it (see
:mod:`cityid_card.drivers`), and it says which kind it is (:attr:`Link.kind`). Each
medium package registers a factory for its link kind (:func:`register`); callers ask
:func:`medium_for` and never look at a link's type. Every medium does the same five
things (:class:`Medium`): read, verify, check blank, personalise, write, and reports
what it knows about itself as :class:`Facts`.

Every way a credential is verified (a file's bytes, a QR code, a tag, a card) gives one
result type, :class:`Verification`: ``.credential``, ``.status``, ``.authenticity``,
``.kid``, ``.alg`` and the medium's ``.facts``.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Protocol

from cityid_card._algorithms import Algorithm
from cityid_card.credential import Credential
from cityid_card.keys import IssuerKey
from cityid_card.media.errors import UnsupportedMedium
from cityid_card.status import CredentialStatus
from cityid_card.trust import TrustStore
from cityid_card.verifier import VerifiedCredential, Verifier, verify

__all__ = [
    "ISO7816",
    "TYPE2",
    "Authenticity",
    "Facts",
    "Link",
    "Medium",
    "Personalised",
    "Reading",
    "Verification",
    "Written",
    "check",
    "link_kinds",
    "medium_for",
    "register",
    "verify_bytes",
]

#: Link kind of a chip card, contact or contactless: command APDUs (ISO 7816-4).
ISO7816: Final = "iso7816"
#: Link kind of an NFC Forum Type 2 tag: Type 2 frames (READ, WRITE, FAST_READ, ...).
TYPE2: Final = "type2"


class Authenticity(enum.IntEnum):
    """How strongly a verification ties the credential to the physical card or tag.

    Ordered: a higher level implies everything a lower one checks. The two NFC tag
    levels sit between signature-only and chip authentication: both can be copied by
    someone with the right blank tag, only a chip key cannot (see ``docs/nfc.md``).
    """

    #: The issuer's signature verifies, but the bytes could have been copied to any card.
    SIGNATURE_ONLY = 10
    #: The credential binds the tag's UID and the tag answered with that UID: a copy
    #: needs a tag whose UID can be set (sold as "magic" tags) or a tag emulator.
    TAG_UID_BOUND = 20
    #: As TAG_UID_BOUND, and the tag's NXP originality signature over that UID verifies.
    #: The signature is readable by anyone and can be replayed by an emulator or a tag
    #: whose signature is writable, so this excludes only the cheapest clones.
    ORIGINALITY_CHECKED = 30
    #: The chip also proved, by signing a fresh challenge, that it holds the private key
    #: whose public half the issuer signed into the credential: the card is not a copy.
    CHIP_AUTHENTICATED = 40


class Link(Protocol):
    """What a driver opened to one card or tag in a reader; close it when done."""

    @property
    def kind(self) -> str:
        """The link kind: :data:`ISO7816` or :data:`TYPE2` (or a registered medium's)."""
        ...

    @property
    def reader(self) -> str:
        """The reader's name or URI, as its driver reports it."""
        ...

    @property
    def uid(self) -> bytes | None:
        """The UID the card or tag answered anticollision with; None over contacts."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Facts:
    """What a medium reports about itself and the operation, beside the credential.

    ``exchanges`` counts the frames (a tag) or command APDUs (a chip card) the
    operation took, in ``unit``. Nothing here is personal data; the UID is kept out of
    :meth:`as_json` (it is a tracking identifier: ``cityid-card read --uid`` prints it
    only when asked).
    """

    #: ``chip_card``, ``nfc_tag``, ``bytes`` (a file) or ``qr`` (a printed card face).
    kind: str
    reader: str | None = None
    #: The chip's product name ("NTAG213", "Type 2 tag"); None for a chip card.
    product: str | None = None
    uid: bytes | None = field(default=None, repr=False)
    #: Whether the card or tag is read-only for good; None if it did not say.
    locked: bool | None = None
    exchanges: int | None = None
    unit: str = ""
    #: Whether the manufacturer's originality signature verified; None if not checked.
    originality: bool | None = None

    @property
    def what(self) -> str:
        """How a message names the medium: its product, else the last word of its kind
        ("card" for ``chip_card``, "tag" for ``nfc_tag``)."""
        return self.product or self.kind.rpartition("_")[2]

    def as_json(self) -> dict[str, Any]:
        """The facts as JSON-ready values: ``medium``, and from a reader ``reader``,
        ``locked``, ``originality``, the product if known and the exchanges by unit
        (``frames``, ``apdus``)."""
        result: dict[str, Any] = {"medium": self.kind}
        if self.reader is None:
            return result
        result.update(reader=self.reader, locked=self.locked, originality=self.originality)
        if self.product is not None:
            result["product"] = self.product
        if self.exchanges is not None:
            result[self.unit.lower() + "s"] = self.exchanges
        return result


@dataclass(frozen=True)
class Verification:
    """A verified credential, however it was verified: from bytes, a QR code, a tag, a card."""

    verified: VerifiedCredential
    authenticity: Authenticity
    facts: Facts

    @property
    def credential(self) -> Credential:
        return self.verified.credential

    @property
    def status(self) -> CredentialStatus:
        return self.verified.status

    @property
    def kid(self) -> str:
        return self.verified.kid

    @property
    def alg(self) -> Algorithm:
        return self.verified.alg

    @property
    def locked(self) -> bool | None:
        return self.facts.locked


@dataclass(frozen=True)
class Reading:
    """A credential's bytes read from a medium, UNVERIFIED, and what the medium reported."""

    blob: bytes = field(repr=False)
    facts: Facts


@dataclass(frozen=True)
class Personalised:
    """A card or tag a medium personalised: the credential issued for it, and its check."""

    blob: bytes = field(repr=False)
    verification: Verification
    locked: bool

    @property
    def authenticity(self) -> Authenticity:
        return self.verification.authenticity

    @property
    def product(self) -> str | None:
        return self.verification.facts.product


@dataclass(frozen=True)
class Written:
    """An issued credential written to a medium: what it replaced and what it cost."""

    size: int
    #: What the medium held before: ``blank``, ``credential`` or ``foreign``.
    replaced: str
    #: Units of memory written (pages of a tag).
    writes: int
    locked: bool
    facts: Facts
    #: The verification after writing, if a trust store or verifier was given.
    verification: Verification | None


class Medium(Protocol):
    """One card or tag on an open link: everything the CLI, a gate or a station does with it.

    Operations that a medium cannot do raise :class:`~cityid_card.errors.UnsupportedMedium`
    (a chip card is personalised, never written with a credential issued elsewhere).
    Dates come from the caller: no medium reads a clock.
    """

    @property
    def kind(self) -> str:
        """``chip_card`` or ``nfc_tag``: how reports and events name the medium."""
        ...

    @property
    def seals(self) -> bool:
        """Whether a tap reads this medium's record, so the library seals it under a key
        printed on the card face (an NFC tag): writing it then takes ``seal_key`` or
        ``open_record=True``, reading a sealed one takes ``seal_key``. A chip card answers
        only its own protocol: False, and it refuses a ``seal_key`` (UnsupportedMedium).
        """
        ...

    def facts(self) -> Facts:
        """What the medium reports before anything is read: reader, UID, product."""
        ...

    def read(self, *, seal_key: bytes | None = None) -> Reading:
        """The credential's bytes, unverified; BlankCard (or a kind of it) if there is none.

        A sealed record without ``seal_key`` raises SealedTag.
        """
        ...

    def verify(
        self,
        verifier: TrustStore | Verifier,
        now: datetime | date,
        *,
        seal_key: bytes | None = None,
    ) -> Verification:
        """Read and verify the credential, and check what binds it to this card or tag."""
        ...

    def check_fits(self, credential_size: int, *, sealed: bool) -> None:
        """Raise, before anything is written, if a credential of ``credential_size`` bytes
        (``sealed``: as a sealed record) does not fit: TagCapacityError, UnsupportedMedium."""
        ...

    def check_blank(self) -> None:
        """Raise CardNotBlank, CardLocked, ... unless the medium may be personalised."""
        ...

    def present(self) -> bool:
        """Whether the card or tag still answers on its link; changes nothing on it.

        A reader loop asks this between taps, so a card left on the reader is verified
        once; an answer with an error status still means the card is there.
        """
        ...

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
        """Issue ``credential`` for this card or tag, write it, read it back, verify it; lock.

        A medium whose record a tap reads (an NFC tag) needs ``seal_key`` (the record
        sealed under it) or ``open_record=True`` (the open record), never neither:
        RecordChoiceError. A chip card has no such record: it refuses ``seal_key``
        (UnsupportedMedium) and has nothing for ``open_record`` to open.
        """
        ...

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
        """Write an issued credential (checked first with ``verifier``); read back; lock.

        ``seal_key`` or ``open_record=True``: as for :meth:`personalise`.
        """
        ...


MediumFactory = Callable[[Any], Medium]
_FACTORIES: dict[str, MediumFactory] = {}
#: The media that come with the core, imported (and so registered) on first use.
_BUILT_IN = ("cityid_card.iso7816.medium", "cityid_card.type2.medium")


def register(link_kind: str, factory: MediumFactory) -> None:
    """Make ``factory(link)`` the medium of every link of ``link_kind``."""
    _FACTORIES[link_kind] = factory


def _load_built_in() -> None:
    for module in _BUILT_IN:
        importlib.import_module(module)


def link_kinds() -> list[str]:
    """The link kinds a medium is registered for."""
    _load_built_in()
    return sorted(_FACTORIES)


def medium_for(link: Link) -> Medium:
    """The medium registered for the link's kind; raise UnsupportedMedium if there is none."""
    _load_built_in()
    factory = _FACTORIES.get(link.kind)
    if factory is None:
        raise UnsupportedMedium(f"no medium is registered for links of kind {link.kind!r}")
    return factory(link)


def check(
    blob: bytes, verifier: TrustStore | Verifier, now: datetime | date | None
) -> VerifiedCredential:
    """Verify ``blob`` with a Verifier as it is, or against a trust store."""
    return (
        verifier.verify(blob, now)
        if isinstance(verifier, Verifier)
        else verify(blob, verifier, now)
    )


def verify_bytes(
    blob: bytes,
    verifier: TrustStore | Verifier,
    now: datetime | date | None,
    *,
    kind: str = "bytes",
) -> Verification:
    """Verify a credential's bytes from a file (``bytes``) or a QR code (``qr``).

    Nothing binds such bytes to a card: the level is SIGNATURE_ONLY.
    """
    return Verification(check(blob, verifier, now), Authenticity.SIGNATURE_ONLY, Facts(kind))
