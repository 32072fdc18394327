from collections.abc import Sequence

from cityid_card.errors import CredentialError
from cityid_card.verifier import CacheEntry, KeyRow, Now, VerifiedCredential

class Engine:
    """The C engine: the Engine protocol of cityid_card.verifier."""

    reject_unknown: bool

    def __new__(cls, keys: Sequence[KeyRow], reject_unknown: bool = False) -> Engine: ...
    def set_status_list(
        self, key_index: int, data: bytes | None, bits: int, expires_at: int | None
    ) -> None: ...
    def verify(self, blob: bytes | bytearray | memoryview, now: Now, /) -> VerifiedCredential: ...
    def verify_many(
        self, blobs: Sequence[bytes], now: Now, /
    ) -> list[VerifiedCredential | CredentialError]: ...
    def recheck(self, entry: CacheEntry, now: Now, /) -> VerifiedCredential: ...

def verify_signature(
    cose_alg: int, raw_key: bytes, message: bytes, signature: bytes, /
) -> None: ...
def signature_backend(cose_alg: int, /) -> str: ...
