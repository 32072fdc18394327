"""cityid-card: signed municipal ID credentials that fit on the cheapest NFC tag.

The public API::

    from cityid_card import Credential, IssuerKey, TrustStore, verify, CredentialError

    key = IssuerKey.generate("ES256", kid="CHI-2026-1")
    blob = key.issue(Credential(name=..., date_of_birth=..., expires=..., status_index=...))
    vc = verify(blob, TrustStore([key.public()]))
"""

from __future__ import annotations

import os as _os

from .credential import Credential
from .errors import (
    ApduError,
    ApplicationNotFound,
    BadSignature,
    BlankCard,
    BlankTag,
    CapabilityContainerError,
    CardAuthenticationError,
    CardError,
    CardLocked,
    CardNotBlank,
    CardProtocolError,
    CardRemoved,
    CityIDError,
    ClaimError,
    CredentialError,
    DriverError,
    Expired,
    FaceError,
    InvalidClaim,
    InvalidKey,
    KeyNotValid,
    MalformedCredential,
    NdefFormatError,
    NdefLengthError,
    NoReader,
    NotOurTag,
    NotYetValid,
    PersonalizationError,
    QRCodeError,
    Revoked,
    StatusListError,
    StatusUnknown,
    Suspended,
    TagCapacityError,
    TagError,
    TagLocked,
    TagProtocolError,
    TagRemoved,
    TagUidMismatch,
    TagWriteError,
    TlvError,
    TokenError,
    TokenNotFound,
    TokenPinError,
    TokenUnsupported,
    TransportError,
    TransportTimeout,
    TrustStoreError,
    UnknownClaim,
    UnknownIssuer,
    UnsupportedAlgorithm,
    UnsupportedTag,
    UnsupportedVersion,
)
from .keys import IssuerKey, PublicKey
from .signer import Signer
from .status import (
    CredentialStatus,
    StatusListToken,
    StatusRegistry,
    StatusValue,
    sign_status_list,
)
from .trust import TrustStore
from .verifier import _python_only

# The one environment variable the library heeds, read here at start-up rather than in
# the verifier: CITYID_CARD_PURE=1 keeps the C engine out of this process.
if _os.environ.get("CITYID_CARD_PURE") == "1":
    _python_only()

from .verifier import (  # after the engine choice above
    DEFAULT_IMPLEMENTATION,
    StatusPolicy,
    VerifiedCredential,
    Verifier,
    verify,
    verify_many,
)

#: The engine verify() uses: "c" (the C extension) or "python" (its pure-Python twin).
implementation = DEFAULT_IMPLEMENTATION

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_IMPLEMENTATION",
    "ApduError",
    "ApplicationNotFound",
    "BadSignature",
    "BlankCard",
    "BlankTag",
    "CapabilityContainerError",
    "CardAuthenticationError",
    "CardError",
    "CardLocked",
    "CardNotBlank",
    "CardProtocolError",
    "CardRemoved",
    "CityIDError",
    "ClaimError",
    "Credential",
    "CredentialError",
    "CredentialStatus",
    "DriverError",
    "Expired",
    "FaceError",
    "InvalidClaim",
    "InvalidKey",
    "IssuerKey",
    "KeyNotValid",
    "MalformedCredential",
    "NdefFormatError",
    "NdefLengthError",
    "NoReader",
    "NotOurTag",
    "NotYetValid",
    "PersonalizationError",
    "PublicKey",
    "QRCodeError",
    "Revoked",
    "Signer",
    "StatusListError",
    "StatusListToken",
    "StatusPolicy",
    "StatusRegistry",
    "StatusUnknown",
    "StatusValue",
    "Suspended",
    "TagCapacityError",
    "TagError",
    "TagLocked",
    "TagProtocolError",
    "TagRemoved",
    "TagUidMismatch",
    "TagWriteError",
    "TlvError",
    "TokenError",
    "TokenNotFound",
    "TokenPinError",
    "TokenUnsupported",
    "TransportError",
    "TransportTimeout",
    "TrustStore",
    "TrustStoreError",
    "UnknownClaim",
    "UnknownIssuer",
    "UnsupportedAlgorithm",
    "UnsupportedTag",
    "UnsupportedVersion",
    "VerifiedCredential",
    "Verifier",
    "__version__",
    "implementation",
    "sign_status_list",
    "verify",
    "verify_many",
]
