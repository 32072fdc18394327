"""Extended Access Control for generation-2 cards: the protocol steps as pure functions.

PACE with Generic Mapping (:mod:`.pace`), secure messaging (:mod:`.sm`), card-verifiable
certificates (:mod:`.cvc`), Terminal Authentication v2 (:mod:`.ta`), Chip Authentication
v2 (:mod:`.ca`) and Restricted Identification (:mod:`.ri`), with their command APDUs
(:mod:`.commands`) and EF.CardAccess (:mod:`.security_infos`), in the encodings of ICAO
Doc 9303-11 and BSI TR-03110 on NIST P-256 with AES-128. Every function maps bytes (and
explicit keys, nonces and dates) to bytes, performs no I/O and reads no clock; the
card application and the terminal session are built on top, with
:class:`~.sm.TerminalChannel` and :class:`~.sm.CardChannel` keeping the secure
messaging counters. ``specs/eac.md`` is the normative description, with vectors
generated from this code; ``specs/vectors/eac_vectors.py`` composes every step of a
read, terminal and card side, in one place.
"""

from __future__ import annotations

from cityid_card.eac import ca, commands, cvc, kdf, pace, ri, security_infos, sm, ta, tlv
from cityid_card.eac.curve import P256, Curve
from cityid_card.eac.errors import (
    AuthenticationFailed,
    CertificateChainError,
    CertificateDateError,
    CertificateError,
    CertificateSignatureError,
    EacEncodingError,
    EacError,
    InvalidPoint,
    SecureMessagingError,
)
from cityid_card.eac.pace import SessionKeys
from cityid_card.eac.security_infos import CardAccess
from cityid_card.eac.sm import CardChannel, TerminalChannel

__all__ = [
    "P256",
    "AuthenticationFailed",
    "CardAccess",
    "CardChannel",
    "CertificateChainError",
    "CertificateDateError",
    "CertificateError",
    "CertificateSignatureError",
    "Curve",
    "EacEncodingError",
    "EacError",
    "InvalidPoint",
    "SecureMessagingError",
    "SessionKeys",
    "TerminalChannel",
    "ca",
    "commands",
    "cvc",
    "kdf",
    "pace",
    "ri",
    "security_infos",
    "sm",
    "ta",
    "tlv",
]
