from collections.abc import Sequence

from cityid_card.credential import Credential

class Engine:
    """The C engine: the Engine protocol of cityid_card.verifier."""

    def __new__(
        cls, keys: Sequence[tuple[int, bytes, bytes, int | None, int | None]]
    ) -> Engine: ...
    def set_status_list(
        self, key_index: int, data: bytes | None, bits: int, expires_at: int | None
    ) -> None: ...
    def status(self, key_index: int, status_index: int, now: int) -> int: ...
    def verify(self, blob: bytes, today: int, now: int, /) -> tuple[int, int, Credential]: ...

def verify_signature(
    cose_alg: int, raw_key: bytes, message: bytes, signature: bytes, /
) -> None: ...
def signature_backend(cose_alg: int, /) -> str: ...
