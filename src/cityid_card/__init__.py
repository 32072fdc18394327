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
    BadSignature,
    CityIDError,
    ClaimError,
    CredentialError,
    Expired,
    InvalidClaim,
    InvalidKey,
    KeyNotValid,
    MalformedCredential,
    NotYetValid,
    TrustStoreError,
    UnknownClaim,
    UnknownIssuer,
    UnsupportedAlgorithm,
    UnsupportedVersion,
)
from .keys import IssuerKey, PublicKey
from .trust import TrustStore
from .verifier import VerifiedCredential, verify

__version__ = "0.1.0"

__all__ = [
    "BadSignature",
    "CityIDError",
    "ClaimError",
    "Credential",
    "CredentialError",
    "Expired",
    "InvalidClaim",
    "InvalidKey",
    "IssuerKey",
    "KeyNotValid",
    "MalformedCredential",
    "NotYetValid",
    "PublicKey",
    "TrustStore",
    "TrustStoreError",
    "UnknownClaim",
    "UnknownIssuer",
    "UnsupportedAlgorithm",
    "UnsupportedVersion",
    "VerifiedCredential",
    "__version__",
    "verify",
]
