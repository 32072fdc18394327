"""The host side of NFC tags: read, verify, write and lock a credential on a Type 2 tag.

Sans-I/O like :mod:`.session`: a :class:`TagSession` talks to whatever :class:`TagLink`
a driver hands it (the nfc driver's nfcpy tag, an emulator) and never opens a reader.
The memory layout and the write order are ``specs/ndef-mapping.md``; the layout code is
in :mod:`.type2` and :mod:`.ndef`.

Reading an NTAG21x takes FAST_READ frames sized to the reader: a whole credential on an
NTAG213 is one frame (pages 2 to 40, lock bytes included). Other Type 2 tags are read
through the driver's generic path (READ, 16 bytes a frame).

What a verification proves depends on what the credential binds (see
:class:`~cityid_card.media.Authenticity`): its ``tag_uid`` must be the tag's UID
(a mismatch raises TagUidMismatch, never a lower level), and only then is the NXP
originality signature worth reading.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Protocol

from cityid_card.credential import Credential
from cityid_card.errors import CredentialError
from cityid_card.keys import IssuerKey
from cityid_card.media import Authenticity, Facts, Verification, Written, check
from cityid_card.media.errors import Blank
from cityid_card.trust import TrustStore
from cityid_card.type2.errors import (
    BlankTag,
    CapabilityContainerError,
    NdefFormatError,
    NotOurTag,
    RecordChoiceError,
    SealedTag,
    SealError,
    TagCapacityError,
    TagError,
    TagLocked,
    TagNotBlank,
    TagProtocolError,
    TagUidMismatch,
    TagWriteError,
    TlvError,
    UnsupportedTag,
)
from cityid_card.verifier import VerifiedCredential, Verifier, decode_unverified

from . import memory as type2
from . import ndef, seal
from .memory import PAGE_SIZE, CapabilityContainer, Product

__all__ = [
    "FIRST_READ_BYTES",
    "Contents",
    "TagLink",
    "TagSession",
    "check_capacity",
    "data_area_needed",
    "personalize_tag",
    "read_tag",
    "verify_tag",
    "write_tag",
]

#: Bytes of the data area the first FAST_READ covers when the reader allows: every
#: credential up to 143 bytes (all with a name up to 36 bytes and a tag UID) in one frame.
FIRST_READ_BYTES = 160


class TagLink(Protocol):
    """A Type 2 tag in a reader's field, as a driver hands it to the host session."""

    @property
    def uid(self) -> bytes:
        """The UID the tag answered anticollision with (4, 7 or 10 bytes)."""
        ...

    @property
    def product(self) -> Product | None:
        """The NTAG21x product GET_VERSION named at activation, None for other tags."""
        ...

    @property
    def max_response(self) -> int:
        """The most bytes the reader takes in one answer from the tag."""
        ...

    @property
    def frames(self) -> int:
        """Frames exchanged with the tag since it was activated (a counter)."""
        ...

    def command(self, frame: bytes) -> bytes:
        """Send one Type 2 command and return the answer; a NAK is returned as one byte.

        After a NAK the tag is idle: the driver wakes it again before returning.
        Raises TagRemoved if the tag stops answering.
        """
        ...

    def read_generic(self, start: int, stop: int) -> bytes:
        """Memory bytes ``start`` to ``stop`` through the driver's generic READ path."""
        ...

    def protect(self) -> None:
        """Make the tag read-only for good with the driver's lock procedure."""
        ...


class Contents(enum.StrEnum):
    """What a tag held before a write."""

    BLANK = "blank"
    CREDENTIAL = "credential"
    FOREIGN = "foreign"


class TagSession:
    """One conversation with a Type 2 tag over ``link``; ``frames`` counts what it cost."""

    def __init__(self, link: TagLink) -> None:
        self.link = link
        self._start = link.frames
        self._pages: dict[int, bytes] = {}

    @property
    def frames(self) -> int:
        return self.link.frames - self._start

    @property
    def product_name(self) -> str:
        product = self.link.product
        return "Type 2 tag" if product is None else product.name

    def facts(self, originality: bool | None) -> Facts:
        """What the tag reported in this session: product, UID, lock state, frames."""
        return Facts(
            "nfc_tag",
            product=self.product_name,
            uid=self.link.uid,
            locked=self.locked(),
            exchanges=self.frames,
            unit="frame",
            originality=originality,
        )

    @property
    def _pages_per_frame(self) -> int:
        """The most pages one FAST_READ answer may carry through the reader."""
        return max(1, self.link.max_response // PAGE_SIZE)

    def _store(self, first: int, data: bytes) -> None:
        for index in range(len(data) // PAGE_SIZE):
            self._pages[first + index] = data[index * PAGE_SIZE : (index + 1) * PAGE_SIZE]

    def _fetch(self, first: int, last: int) -> None:
        """Read pages ``first`` to ``last`` into the cache, in as few frames as allowed."""
        if self.link.product is None:
            self._store(first, self.link.read_generic(first * PAGE_SIZE, (last + 1) * PAGE_SIZE))
            return
        page = first
        while page <= last:
            end = min(last, page + self._pages_per_frame - 1)
            data = self.link.command(type2.fast_read(page, end))
            if len(data) != (end - page + 1) * PAGE_SIZE:
                raise TagProtocolError(
                    f"the tag answered FAST_READ of pages {page}-{end} with {len(data)} bytes"
                )
            self._store(page, data)
            page = end + 1

    def _ensure(self, first: int, last: int) -> None:
        missing = [page for page in range(first, last + 1) if page not in self._pages]
        if missing:
            self._fetch(missing[0], missing[-1])

    def memory(self, start: int, stop: int) -> bytes:
        """Memory bytes ``start`` to ``stop``, from the cache or the tag."""
        if stop <= start:
            return b""
        self._ensure(start // PAGE_SIZE, (stop - 1) // PAGE_SIZE)
        first = start // PAGE_SIZE
        pages = b"".join(self._pages[p] for p in range(first, (stop - 1) // PAGE_SIZE + 1))
        return pages[start - first * PAGE_SIZE : stop - first * PAGE_SIZE]

    def _read_ahead(self, start: int, stop: int) -> bytes:
        """Memory for the TLV walk, which asks byte by byte: on an NTAG21x, a frame at a time.

        Other tags are read as asked (16 bytes a READ): their memory size is unknown, and
        a READ past the end is a NAK.
        """
        page = start // PAGE_SIZE
        product = self.link.product
        if page not in self._pages and product is not None:
            self._ensure(page, min(product.last_data_page, page + self._pages_per_frame - 1))
        return self.memory(start, stop)

    def prefetch(self) -> None:
        """The first read: lock bytes, capability container and the start of the data area.

        On an NTAG21x one FAST_READ from page 2 to the dynamic lock bytes if the reader
        takes that much (a whole NTAG213), else up to FIRST_READ_BYTES of data area.
        """
        product = self.link.product
        if product is None:
            self._ensure(0, 7)
            return
        wanted = 4 + FIRST_READ_BYTES // PAGE_SIZE - 1
        last = product.dynamic_lock_page if product.dynamic_lock_page - 1 <= wanted else wanted
        self._ensure(2, min(last, 2 + self._pages_per_frame - 1))

    def capability_container(self) -> CapabilityContainer:
        container = CapabilityContainer.parse(self.memory(12, 16))
        product = self.link.product
        if product is not None and container.size > product.user_memory:
            raise CapabilityContainerError(
                f"the capability container announces {container.size} bytes; "
                f"an {product.name} has {product.user_memory}"
            )
        return container

    def ndef_message(self) -> bytes:
        """The NDEF message bytes; raises BlankTag, CapabilityContainerError, TlvError."""
        self.prefetch()
        container = self.capability_container()
        area = type2.find_ndef(self._read_ahead, container.size)
        low, high = area.positions[0], area.positions[-1] + 1
        span = self.memory(low, high)
        return bytes(span[position - low] for position in area.positions)

    def read_credential(self, seal_key: bytes | None = None) -> bytes:
        """The credential's bytes, unverified; raises a TagError subclass if there is none.

        A sealed record is opened with ``seal_key`` (the key from the card face's QR
        code); without one it raises SealedTag, with the wrong one SealError.
        """
        record = ndef.decode_record(self.ndef_message())
        if not record.sealed:
            return record.payload
        if seal_key is None:
            raise SealedTag(
                "the tag's credential is sealed: reading it needs the key in the card "
                "face's QR code"
            )
        return seal.unseal(record.payload, seal_key)

    def sealed(self) -> bool:
        """Whether the tag's cityid-card record is sealed (raises as :meth:`read_credential`)."""
        return ndef.decode_record(self.ndef_message()).sealed

    def lock_state(self) -> type2.LockState | None:
        """The lock state from what was read (None on a tag of no known product)."""
        product = self.link.product
        if product is None:
            return None
        dynamic = self._pages.get(product.dynamic_lock_page)
        return type2.lock_state(product, self.memory(8, 12), self.memory(12, 16), dynamic)

    def read_lock_bytes(self) -> None:
        """Read pages 2 and 3 and the dynamic lock bytes, so :meth:`locked` knows them all."""
        product = self.link.product
        self._ensure(2, 3)
        if product is not None:
            self._ensure(product.dynamic_lock_page, product.dynamic_lock_page)

    def locked(self) -> bool | None:
        """Whether the tag is read-only for good, as far as the pages read tell."""
        state = self.lock_state()
        product = self.link.product
        if state is None or product is None:
            return False if not self.capability_container().read_only else None
        return state.locked(product)

    def originality_signature(self) -> bytes | None:
        """READ_SIG's 32 bytes, or None if the tag is no NTAG21x or refuses it."""
        if self.link.product is None:
            return None
        answer = self.link.command(type2.read_sig())
        return answer if len(answer) == 32 else None

    def contents(self) -> Contents:
        """What the tag holds: nothing, a cityid-card credential, or anything else.

        A tag whose capability container is still all zeros was never formatted: blank.
        """
        self.prefetch()
        if self.memory(12, 16) == bytes(PAGE_SIZE):
            return Contents.BLANK
        try:
            ndef.decode_record(self.ndef_message())
        except BlankTag:
            return Contents.BLANK
        except (NotOurTag, NdefFormatError, TlvError, CapabilityContainerError):
            return Contents.FOREIGN
        return Contents.CREDENTIAL

    def write_message(self, message: bytes) -> int:
        """Write an NDEF message in the tearing-safe order; return the pages written.

        Any NTAG21x content is overwritten (the callers check what it was); the rest of
        the data area is zeroed, so nothing of an earlier credential stays readable.
        Raises TagLocked on a read-only tag, TagCapacityError if the message does not
        fit, and TagWriteError if the tag refuses a page.
        """
        product = _writable_product(self.link)
        self._ensure(2, product.dynamic_lock_page)
        target_cc = product.capability_container
        current_cc = self.memory(12, 16)
        state = type2.lock_state(
            product, self.memory(8, 12), current_cc, self._pages[product.dynamic_lock_page]
        )
        if state.capability_container_read_only or state.locked_pages:
            raise TagLocked("the tag is read-only: its lock bits or capability container say so")
        image = type2.data_area_image(message, target_cc.size)
        plan = type2.write_plan(self.memory(16, 16 + target_cc.size), image)
        if current_cc != target_cc.encode():
            if any(old & ~new for old, new in zip(current_cc, target_cc.encode(), strict=True)):
                raise TagWriteError(
                    "the tag's capability container cannot be rewritten (it is one-time "
                    "programmable and holds other bits)"
                )
            plan.insert(0, (3, target_cc.encode()))
        for page, data in plan:
            answer = self.link.command(type2.write(page, data))
            if not type2.is_ack(answer):
                raise TagWriteError(f"the tag refused to write page {page}")
            self._pages[page] = data
        return len(plan)


def _writable_product(link: TagLink) -> Product:
    """The NTAG21x product of ``link``; raise UnsupportedTag for any other tag."""
    product = link.product
    if product is None:
        raise UnsupportedTag(
            "writing needs an NTAG213, NTAG215 or NTAG216 (GET_VERSION named no such chip)"
        )
    return product


def read_tag(link: TagLink, seal_key: bytes | None = None) -> tuple[bytes, bool | None, int]:
    """The credential bytes (unverified), whether the tag is locked, and the frames it took.

    A sealed tag needs ``seal_key`` (SealedTag without it).
    """
    session = TagSession(link)
    blob = session.read_credential(seal_key)
    return blob, session.locked(), session.frames


def _check_tag(
    session: TagSession,
    verified: VerifiedCredential,
    originality_keys: Iterable[bytes],
) -> tuple[Authenticity, bool | None]:
    tag_uid = verified.credential.tag_uid
    if tag_uid is None:
        return Authenticity.SIGNATURE_ONLY, None
    if tag_uid != session.link.uid:
        raise TagUidMismatch(
            "the credential is bound to another tag's UID: it was copied to this tag"
        )
    signature = session.originality_signature()
    if signature is None:
        return Authenticity.TAG_UID_BOUND, None
    if type2.originality_valid(session.link.uid, signature, originality_keys):
        return Authenticity.ORIGINALITY_CHECKED, True
    return Authenticity.TAG_UID_BOUND, False


def verify_tag(
    link: TagLink,
    trust: TrustStore | Verifier,
    now: datetime | date,
    *,
    originality_keys: Iterable[bytes] = type2.NXP_ORIGINALITY_KEYS,
    seal_key: bytes | None = None,
) -> Verification:
    """Read the tag, verify its credential, and check what binds it to this tag.

    A credential with a tag_uid must match the tag's UID (TagUidMismatch otherwise);
    then the originality signature is read (one frame) and checked against
    ``originality_keys`` (NXP's by default). A signature that does not verify leaves
    the level at TAG_UID_BOUND: the issuer did not sign which chip to expect. A sealed
    tag is opened with ``seal_key``, the key from the card face's QR code.
    """
    session = TagSession(link)
    verified = check(session.read_credential(seal_key), trust, now)
    level, originality = _check_tag(session, verified, originality_keys)
    return Verification(verified, level, session.facts(originality))


def _check_record_choice(seal_key: bytes | None, open_record: bool) -> None:
    """Raise RecordChoiceError unless exactly one of ``seal_key`` and ``open_record`` is given.

    The open record gives away the holder's name, date of birth and dates to any tap:
    a tag write takes it only when asked for by name.
    """
    if seal_key is not None and open_record:
        raise RecordChoiceError("a tag write takes seal_key= or open_record=True, not both")
    if seal_key is None and not open_record:
        raise RecordChoiceError(
            "a tag write must choose its record: seal_key=KEY seals it (a tap alone reads "
            "no personal byte; the key goes on the card face), open_record=True writes the "
            "open record, which any tap reads"
        )


def write_tag(
    link: TagLink,
    blob: bytes,
    *,
    force: bool = False,
    lock: bool = False,
    trust: TrustStore | Verifier | None = None,
    now: datetime | date | None = None,
    originality_keys: Iterable[bytes] = type2.NXP_ORIGINALITY_KEYS,
    seal_key: bytes | None = None,
    open_record: bool = False,
) -> Written:
    """Write a credential to a blank tag or one with the same holder's; read back; lock.

    The credential must be well-formed, and if it binds a tag UID that must be this
    tag's; with ``trust`` it must also verify, all before the tag is touched (a
    credential that does not verify raises its CredentialError and is never written).
    Unless ``force``, a tag holding anything but nothing or a credential of the same
    holder (the same name and date of birth: a renewal) is refused: NotOurTag for other
    data, TagNotBlank for another holder's credential. After the write the tag is read
    back and compared byte for byte, and with ``trust`` verified again (TagWriteError if
    either fails); only then, with ``lock``, is it made read-only for good and the lock
    bits read back.

    With ``seal_key`` the credential is written sealed (``specs/ndef-mapping.md`` section
    2.3; the key goes on the card face); with ``open_record=True``, open, readable by
    any tap; one of the two is required (RecordChoiceError before anything else). A
    sealed credential already on the tag counts as the same holder's only if
    ``seal_key`` opens it (a renewal that keeps the face); otherwise replacing it needs
    ``force``.
    """
    _check_record_choice(seal_key, open_record)
    credential = decode_unverified(blob).credential
    if credential.tag_uid is not None and credential.tag_uid != link.uid:
        raise TagUidMismatch(
            "the credential is bound to another tag's UID: on this tag it would never verify"
        )
    if trust is not None:
        check(blob, trust, now)
    product = _writable_product(link)  # before reading anything of the tag
    if seal_key is None:
        message = ndef.encode_message(blob)
    else:
        check_capacity(product, len(blob), sealed=True)
        message = ndef.encode_sealed_message(seal.seal(blob, seal_key))
    session = TagSession(link)
    replaced = session.contents()
    if replaced is Contents.FOREIGN and not force:
        raise NotOurTag(
            "the tag holds data that is not a cityid-card credential: overwriting it needs force"
        )
    if replaced is Contents.CREDENTIAL and not force:
        _check_same_holder(session, seal_key, credential)
    pages = session.write_message(message)
    back = TagSession(link)
    try:
        written = back.read_credential(seal_key)
    except (TagError, Blank) as error:
        raise TagWriteError(
            f"the tag does not read back as written ({type(error).__name__})"
        ) from None
    if written != blob:
        raise TagWriteError("the tag reads back other bytes than were written to it")
    verification = None
    if trust is not None:
        try:
            verified = check(written, trust, now)
            level, originality = _check_tag(back, verified, originality_keys)
        except CredentialError as error:
            raise TagWriteError(
                f"the credential read back from the tag does not check out ({type(error).__name__})"
            ) from None
        verification = Verification(verified, level, back.facts(originality))
    if lock:
        link.protect()
        final = TagSession(link)
        final.read_lock_bytes()
        if final.locked() is not True:
            raise TagWriteError("the tag did not lock: its lock bits read back unset")
    facts = replace(session.facts(None), locked=lock, exchanges=session.frames)
    return Written(len(blob), replaced, pages, lock, facts, verification)


def ndef_tlv_size(message_size: int) -> int:
    """Bytes of the data area an NDEF TLV of ``message_size`` bytes takes (type, length, value)."""
    return message_size + (2 if message_size < 0xFF else 4)


def data_area_needed(credential_size: int, *, sealed: bool) -> int:
    """Bytes of data area a credential of ``credential_size`` bytes takes, sealed or open.

    Raises TagCapacityError for a credential too long to seal.
    """
    if not sealed:
        return ndef_tlv_size(ndef.message_size(credential_size))
    try:
        payload = seal.sealed_size(credential_size)
    except ValueError:
        raise TagCapacityError("the credential is too long to seal") from None
    return ndef_tlv_size(ndef.message_size(payload))


def check_capacity(product: Product, credential_size: int, *, sealed: bool) -> None:
    """Raise TagCapacityError if such a credential does not fit an ``product`` tag.

    A sealed record takes 272 bytes (every credential up to 222 bytes), which only an
    NTAG215 or NTAG216 holds; the message says so, and names no data.
    """
    needed = data_area_needed(credential_size, sealed=sealed)
    size = product.capability_container.size
    if needed <= size:
        return
    if sealed:
        raise TagCapacityError(
            f"a sealed credential needs {needed} bytes of data area; an {product.name} has "
            f"{size} (use an NTAG215 or NTAG216, or write the open record)"
        )
    raise TagCapacityError(
        f"the credential needs {needed} bytes of data area; an {product.name} has {size}"
    )


def _check_same_holder(session: TagSession, seal_key: bytes | None, credential: Credential) -> None:
    """Raise TagNotBlank unless the tag holds a credential of ``credential``'s holder.

    A sealed one counts only if ``seal_key`` opens it: without its key nobody can tell
    whose it is.
    """
    try:
        held = decode_unverified(session.read_credential(seal_key)).credential
    except (CredentialError, SealedTag, SealError):
        held = None
    if held is None or (held.name, held.date_of_birth) != (
        credential.name,
        credential.date_of_birth,
    ):
        raise TagNotBlank("the tag holds another holder's credential: overwriting it needs force")


def personalize_tag(
    link: TagLink,
    issuer: IssuerKey,
    credential: Credential,
    *,
    bind_uid: bool = True,
    lock: bool = False,
    force: bool = False,
    today: date,
    seal_key: bytes | None = None,
    open_record: bool = False,
) -> tuple[bytes, Written]:
    """Issue ``credential`` for the tag in the field and write it: the NFC ``personalize``.

    With ``bind_uid`` the credential's tag_uid is the tag's UID, so a copy on another
    tag is rejected (TAG_UID_BOUND or better). The tag is read back and verified with
    the issuer's key before ``lock``. ``today`` is the issue date when ``credential``
    names none. With ``seal_key`` the tag holds the credential sealed, with
    ``open_record=True`` open: one of the two (see :func:`write_tag`). Returns the
    credential bytes and the write.
    """
    _check_record_choice(seal_key, open_record)  # before the issuer signs anything
    issued = credential.issued or today
    bound = replace(credential, issued=issued, tag_uid=link.uid if bind_uid else None)
    blob = issuer.issue(bound)
    result = write_tag(
        link,
        blob,
        force=force,
        lock=lock,
        trust=TrustStore([issuer.public()]),
        now=issued,
        seal_key=seal_key,
        open_record=open_record,
    )
    return blob, result
