"""cityid-card: signed municipal ID credentials that fit on the cheapest NFC tag.

The public API::

    from datetime import date
    from cityid_card import Credential, IssuerKey, TrustStore, verify, CredentialError

    key = IssuerKey.generate("ES256", kid="CHI-2026-1")
    blob = key.issue(Credential(name=..., date_of_birth=..., expires=..., status_index=...),
                     today=date.today())
    vc = verify(blob, TrustStore([key.public()]))

The names below are the whole top-level API, listed once: each ``import X as X`` is
an explicit re-export (PEP 484), so there is no ``__all__`` to keep in step. Cards,
tags, tokens, faces and batches are imported from their own modules, with their
errors (the rule is in :mod:`cityid_card.errors`).
"""

import os as _os

from .credential import Credential as Credential
from .errors import BadSignature as BadSignature
from .errors import CityIDError as CityIDError
from .errors import ClaimError as ClaimError
from .errors import CredentialError as CredentialError
from .errors import Expired as Expired
from .errors import InvalidClaim as InvalidClaim
from .errors import InvalidKey as InvalidKey
from .errors import KeyNotValid as KeyNotValid
from .errors import KeyOutsideValidity as KeyOutsideValidity
from .errors import MalformedCredential as MalformedCredential
from .errors import MissingExtra as MissingExtra
from .errors import NotYetValid as NotYetValid
from .errors import PassphraseRequired as PassphraseRequired
from .errors import Revoked as Revoked
from .errors import StatusListError as StatusListError
from .errors import StatusUnknown as StatusUnknown
from .errors import Suspended as Suspended
from .errors import TrustStoreError as TrustStoreError
from .errors import UnknownClaim as UnknownClaim
from .errors import UnknownIssuer as UnknownIssuer
from .errors import UnsupportedAlgorithm as UnsupportedAlgorithm
from .errors import UnsupportedVersion as UnsupportedVersion
from .errors import WrongPassphrase as WrongPassphrase
from .keyfiles import load_key as load_key
from .keys import IssuerKey as IssuerKey
from .keys import PublicKey as PublicKey
from .signer import Signer as Signer
from .status import CredentialStatus as CredentialStatus
from .status import StatusListToken as StatusListToken
from .status import StatusRegistry as StatusRegistry
from .status import StatusValue as StatusValue
from .status import sign_status_list as sign_status_list
from .trust import TrustStore as TrustStore
from .verifier import DEFAULT_IMPLEMENTATION as _DEFAULT_IMPLEMENTATION
from .verifier import StatusPolicy as StatusPolicy
from .verifier import VerifiedCredential as VerifiedCredential
from .verifier import Verifier as Verifier
from .verifier import verify as verify
from .verifier import verify_many as verify_many

# The one environment variable the library heeds, read here at start-up rather than in
# the verifier: CITYID_CARD_PURE=1 keeps the C engine out of this process.
if _os.environ.get("CITYID_CARD_PURE") == "1":
    from .verifier import _python_only

    _python_only()
    _DEFAULT_IMPLEMENTATION = "python"

#: The engine verify() uses: "c" (the C extension) or "python" (its pure-Python twin).
implementation = _DEFAULT_IMPLEMENTATION

__version__ = "0.1.0"
