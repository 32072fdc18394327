"""The host side of the card application: select, read, authenticate, personalise.

Sans-I/O: a session talks to whatever :class:`~cityid_card.drivers.Connection` it is
given (PC/SC, the in-process emulator, a test double) and never opens a reader itself.
Every answer is checked against ``specs/card-application.md``; anything else raises a
:class:`~cityid_card.errors.CardError` subclass whose message names the command and the
status word, never the bytes exchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cityid_card.credential import Credential
from cityid_card.errors import CredentialError
from cityid_card.iso7816.errors import (
    CHIP_CARD,
    ApduError,
    ApplicationNotFound,
    BlankCard,
    CardAuthenticationError,
    CardLocked,
    CardProtocolError,
)
from cityid_card.keys import IssuerKey
from cityid_card.media import Authenticity, Facts, Verification, check
from cityid_card.media.errors import PersonalizationError
from cityid_card.trust import TrustStore
from cityid_card.verifier import Verifier, verify

from . import apdu
from .apdu import SW, CommandApdu, Lifecycle
from .processors import ApduProcessor, ChainedResponseProcessor, ConnectionProcessor

if TYPE_CHECKING:
    from cityid_card.drivers import Connection

__all__ = [
    "MAX_CREDENTIAL_BYTES",
    "CardInfo",
    "CardSession",
    "personalize",
    "read_card",
    "verify_card",
]

#: The most bytes a host reads from the credential EF before calling the card broken.
MAX_CREDENTIAL_BYTES = 1024
_UPDATE_CHUNK = apdu.MAX_LC


@dataclass(frozen=True)
class CardInfo:
    """What SELECT told about the application: its life cycle state, if it said."""

    lifecycle: Lifecycle | None

    @property
    def locked(self) -> bool | None:
        return None if self.lifecycle is None else self.lifecycle == Lifecycle.OPERATIONAL


class CardSession:
    """One conversation with the card application over ``connection``.

    Commands go through a chain of APDU processors (:mod:`.processors`): response
    chaining over the connection, and whatever :meth:`add_processor` wraps around it (a
    secure channel). ``apdus`` counts the command APDUs sent, GET RESPONSE and repeats
    included.
    """

    def __init__(self, connection: Connection) -> None:
        self._link = ConnectionProcessor(connection)
        self._processor: ApduProcessor = ChainedResponseProcessor(
            self._link, max_bytes=MAX_CREDENTIAL_BYTES
        )

    @property
    def apdus(self) -> int:
        return self._link.apdus

    def add_processor(self, wrap: Callable[[ApduProcessor], ApduProcessor]) -> None:
        """Wrap the chain in another layer (``wrap(chain)``), e.g. secure messaging."""
        self._processor = wrap(self._processor)

    def exchange(self, name: str, command: CommandApdu) -> tuple[bytes, int]:
        """Send ``command`` through the processors; check the answer's length against Ne.

        Returns the data and the final status word, whatever it is; raises
        CardProtocolError if the card sends more than Ne bytes, or data to a command
        that expects none.
        """
        data, sw = self._processor.send(command)
        if command.le is None and data:
            raise CardProtocolError(f"the card answered {name} with data it should not send")
        if command.le is not None and len(data) > command.le:
            raise CardProtocolError(f"the card answered {name} with more bytes than asked for")
        return data, sw

    def _require_ok(self, name: str, command: CommandApdu) -> bytes:
        data, sw = self.exchange(name, command)
        if sw != SW.OK:
            raise _apdu_error(name, sw)
        return data

    def select(self) -> CardInfo:
        """SELECT the application; raise ApplicationNotFound if the card has none."""
        data, sw = self.exchange("SELECT", apdu.select_application())
        if sw == SW.FILE_NOT_FOUND:
            raise ApplicationNotFound(
                f"the card has no cityid-card application (SELECT answered {apdu.describe_sw(sw)})",
                sw=sw,
                command="SELECT",
            )
        if sw != SW.OK:
            raise _apdu_error("SELECT", sw)
        return CardInfo(_lifecycle(data))

    def read_credential(self) -> bytes:
        """READ BINARY the credential EF: one APDU for a credential under 256 bytes.

        Raises BlankCard if the EF is empty.
        """
        blob = b""
        command = apdu.read_binary(0, sfi=True)
        while True:
            data, sw = self.exchange("READ BINARY", command)
            if sw == SW.WRONG_P1P2:
                if not blob:
                    raise BlankCard("the card holds no credential (not personalised)")
                break
            if sw not in (SW.OK, SW.END_OF_FILE):
                raise _apdu_error("READ BINARY", sw)
            if not data:
                raise CardProtocolError("the card answered READ BINARY with no data")
            blob += data
            if len(blob) > MAX_CREDENTIAL_BYTES:
                raise CardProtocolError("the card's credential EF is larger than any credential")
            if sw == SW.END_OF_FILE or len(data) < apdu.MAX_NE:
                break
            command = apdu.read_binary(len(blob))
        return blob

    def authenticate(self, card_key: bytes, *, challenge: bytes | None = None) -> None:
        """Active authentication: the card must sign a fresh challenge with ``card_key``.

        ``card_key`` is the compressed P-256 point from the VERIFIED credential. Raises
        CardAuthenticationError unless the card proves it holds the private key.
        Transport errors pass through as they are: they say nothing about the card.
        """
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), card_key)
        except ValueError:
            raise CardAuthenticationError(
                "the credential's card key is not a P-256 point"
            ) from None
        if challenge is None:
            challenge = secrets.token_bytes(apdu.AUTH_CHALLENGE_SIZE)
        data, sw = self.exchange("INTERNAL AUTHENTICATE", apdu.internal_authenticate(challenge))
        if sw != SW.OK:
            raise CardAuthenticationError(
                "the chip refused to prove it holds the card key "
                f"(INTERNAL AUTHENTICATE answered {apdu.describe_sw(sw)})"
            )
        if len(data) != apdu.AUTH_SIGNATURE_SIZE:
            raise CardAuthenticationError("the chip's answer to the challenge is not a signature")
        r, s = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big")
        try:
            public.verify(
                encode_dss_signature(r, s),
                apdu.AUTH_CONTEXT + challenge,
                ec.ECDSA(hashes.SHA256()),
            )
        except (InvalidSignature, ValueError):
            raise CardAuthenticationError(
                "the chip did not prove it holds the card key: the card may be a copy"
            ) from None

    def generate_key(self) -> bytes:
        """Have the card make its key pair; return the public key as a compressed point.

        Erases the credential EF. Raises CardLocked if the card is locked.
        """
        command = apdu.generate_key_pair()
        data, sw = self.exchange("GENERATE ASYMMETRIC KEY PAIR", command)
        if sw == SW.CONDITIONS_NOT_SATISFIED:
            raise CardLocked("the card is locked: it cannot make a new key")
        if sw != SW.OK:
            raise _apdu_error("GENERATE ASYMMETRIC KEY PAIR", sw)
        if len(data) != apdu.PUBLIC_KEY_TEMPLATE_SIZE or data[:5] != b"\x7f\x49\x43\x86\x41":
            raise CardProtocolError("the card's public key is not a 7F49 template with tag 86")
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[5:])
        except ValueError:
            raise CardProtocolError("the card's public key is not a P-256 point") from None
        if data[5] != 0x04:
            raise CardProtocolError("the card's public key is not an uncompressed point")
        return public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )

    def write_credential(self, blob: bytes) -> None:
        """UPDATE BINARY the credential into the EF, 255 bytes per APDU."""
        if not blob or len(blob) > MAX_CREDENTIAL_BYTES:
            raise ValueError("a credential is 1 to 1024 bytes")
        for offset in range(0, len(blob), _UPDATE_CHUNK):
            chunk = blob[offset : offset + _UPDATE_CHUNK]
            command = apdu.update_binary(offset, chunk, sfi=offset == 0)
            _, sw = self.exchange("UPDATE BINARY", command)
            if sw == SW.SECURITY_STATUS_NOT_SATISFIED:
                raise CardLocked("the card is locked: its credential cannot be changed")
            if sw != SW.OK:
                raise _apdu_error("UPDATE BINARY", sw)

    def lock(self) -> None:
        """ACTIVATE FILE: lock the card for good (read-only, no new key)."""
        self._require_ok("ACTIVATE FILE", apdu.activate())


def _lifecycle(fci: bytes) -> Lifecycle | None:
    """The life cycle status byte of a ``6F 03 8A 01 xx`` answer to SELECT."""
    if not fci:
        return None
    if len(fci) != 5 or fci[:4] != b"\x6f\x03\x8a\x01":
        raise CardProtocolError("the card's answer to SELECT is not the application's FCI")
    try:
        return Lifecycle(fci[4])
    except ValueError:
        raise CardProtocolError(
            "the card reports a life cycle state the spec does not define"
        ) from None


def _apdu_error(name: str, sw: int) -> ApduError:
    return ApduError(f"the card answered {name} with {apdu.describe_sw(sw)}", sw=sw, command=name)


def _facts(session: CardSession, locked: bool | None) -> Facts:
    return Facts("chip_card", locked=locked, exchanges=session.apdus, unit="APDU")


def read_card(connection: Connection) -> bytes:
    """SELECT and read the credential bytes, unverified (2 APDUs)."""
    session = CardSession(connection)
    session.select()
    return session.read_credential()


def verify_card(
    connection: Connection,
    trust: TrustStore | Verifier,
    now: datetime | date,
    *,
    session: CardSession | None = None,
) -> Verification:
    """Read the card, verify its credential, and authenticate the chip if it can.

    A credential with a card key must be proven by the chip (CHIP_AUTHENTICATED), or
    CardAuthenticationError is raised: never a silently lower level. A credential
    without one is SIGNATURE_ONLY. Credential errors raise as from
    :func:`~cityid_card.verify`; card errors as CardError subclasses.
    """
    session = session or CardSession(connection)
    info = session.select()
    blob = session.read_credential()
    verified = check(blob, trust, now)
    card_key = verified.credential.card_key
    if card_key is None:
        return Verification(verified, Authenticity.SIGNATURE_ONLY, _facts(session, info.locked))
    session.authenticate(card_key)
    return Verification(verified, Authenticity.CHIP_AUTHENTICATED, _facts(session, info.locked))


def personalize(
    connection: Connection,
    issuer: IssuerKey,
    credential: Credential,
    *,
    lock: bool = False,
    today: date,
) -> tuple[bytes, Verification]:
    """Personalise a card: key, credential, read back, verify, authenticate, lock.

    The card makes its key pair; ``credential`` is issued with its public key as
    ``card_key``, written, read back, compared byte for byte, verified against the
    issuer key and the chip authenticated (``card_key`` in ``credential`` is replaced
    by the card's). Only then, with ``lock``, is the card locked. Returns the
    credential bytes and the verification of the card; 5 APDUs, 6 with the lock.
    ``today`` is the issue date when ``credential`` names none (the caller's clock).

    Any failure raises before the lock, so an unfinished card stays unlocked and never
    holds a credential that verifies with other data than issued: the key pair
    generation erases the EF, and a torn write is not a validly signed credential.
    Raises CardLocked on a locked card and PersonalizationError if the read-back
    differs or does not verify.
    """
    session = CardSession(connection)
    if session.select().locked:
        raise CardLocked("the card is locked: it was personalised for good already")
    card_key = session.generate_key()
    issued = credential.issued or today
    blob = issuer.issue(replace(credential, issued=issued, card_key=card_key))
    session.write_credential(blob)
    if session.read_credential() != blob:
        raise PersonalizationError(
            "the card holds other bytes than were written to it", medium=CHIP_CARD
        )
    try:
        verified = verify(blob, TrustStore([issuer.public()]), issued)
        session.authenticate(card_key)
    except CredentialError as error:
        raise PersonalizationError(
            f"the credential read back from the card does not check out ({type(error).__name__})",
            medium=CHIP_CARD,
        ) from None
    if lock:
        session.lock()
    return blob, Verification(verified, Authenticity.CHIP_AUTHENTICATED, _facts(session, lock))
