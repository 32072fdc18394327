"""cityid-card: signed municipal ID credentials that fit on the cheapest NFC tag.

The public API::

    from cityid_card import Credential, IssuerKey, TrustStore, verify, CredentialError

    key = IssuerKey.generate("ES256", kid="CHI-2026-1")
    blob = key.issue(Credential(name=..., date_of_birth=..., expires=..., status_index=...))
    vc = verify(blob, TrustStore([key.public()]))
"""

from __future__ import annotations

from .credential import Credential
from .errors import (
    ApduError,
    ApplicationNotFound,
    BadSignature,
    BlankCard,
    CardAuthenticationError,
    CardError,
    CardLocked,
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
    NoReader,
    NotYetValid,
    PersonalizationError,
    QRCodeError,
    Revoked,
    StatusListError,
    StatusUnknown,
    Suspended,
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
from .verifier import (
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
    "CardAuthenticationError",
    "CardError",
    "CardLocked",
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
    "NoReader",
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
    "UnsupportedVersion",
    "VerifiedCredential",
    "Verifier",
    "__version__",
    "implementation",
    "sign_status_list",
    "verify",
    "verify_many",
]
