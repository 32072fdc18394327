"""The largest credential an applicant's card could carry: for the checks made before a card.

Its bytes are those of a COSE_Sign1 the issuer would sign for the applicant, with the
highest status index and the largest binding the medium can have, and a signature of
zeros: as long as any real one, never signed, never written, never leaving the checks.
"""

from __future__ import annotations

from dataclasses import replace

from cityid_card import _algorithms, _cbor, cose
from cityid_card.credential import MAX_STATUS_INDEX, Credential
from cityid_card.keys import PublicKey

__all__ = ["LARGEST_CARD_KEY", "LARGEST_TAG_UID", "largest_credential"]

#: The largest key binding a chip card's credential carries: a compressed P-256 key.
LARGEST_CARD_KEY = b"\x02" + bytes(32)
#: The largest tag UID (ISO/IEC 14443-3 allows 4, 7 or 10 bytes).
LARGEST_TAG_UID = bytes(10)


def largest_credential(
    issuer: PublicKey, credential: Credential, *, tag: bool
) -> tuple[Credential, bytes]:
    """A stand-in as large as any credential ``issuer`` signs for ``credential``'s holder.

    Returns the stand-in's claims and its bytes.

    ``tag``: bound to a tag UID (an NFC tag) rather than to a chip's key (a chip card).
    ``credential`` must carry its issue date.
    """
    if tag:
        largest = replace(credential, status_index=MAX_STATUS_INDEX, tag_uid=LARGEST_TAG_UID)
    else:
        largest = replace(credential, status_index=MAX_STATUS_INDEX, card_key=LARGEST_CARD_KEY)
    protected = _cbor.dumps(
        {
            cose.HEADER_ALG: _algorithms.COSE_ALGORITHM[issuer.alg],
            cose.HEADER_KID: issuer.wire_kid,
        }
    )
    payload = _cbor.dumps(largest.to_claims())
    return largest, cose.Sign1(protected, payload, bytes(_algorithms.SIGNATURE_SIZE)).encode()
