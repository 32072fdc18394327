"""The verifier's trust store: the issuer public keys it accepts, as a JWK Set file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import _algorithms, _json
from ._algorithms import Algorithm
from ._files import read_file, write_atomically
from .errors import InvalidKey, JSONInputError, TrustStoreError
from .keys import PublicKey

__all__ = ["TrustStore"]


class TrustStore:
    """An immutable set of trusted issuer keys, several per issuer for rotation.

    Keys are looked up by the credential's algorithm and two-byte wire key id. Two
    keys may share a wire key id by chance; the verifier then tries each of them.
    """

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys = tuple(keys)
        #: The cache-less Verifier that cityid_card.verify() uses for this store, built
        #: on first use (a store never changes, so neither does its verifier).
        self.default_verifier: Any = None
        self._by_wire: dict[tuple[Algorithm, bytes], tuple[PublicKey, ...]] = {}
        labels: set[str] = set()
        materials: set[bytes] = set()
        for key in self._keys:
            if not isinstance(key, PublicKey):
                raise TypeError("TrustStore holds PublicKey objects (IssuerKey.public())")
            try:
                _algorithms.check_verifiable(key.key)
            except InvalidKey as error:
                raise TrustStoreError(f"the key {key.kid!r} is not usable: {error}") from None
            if key.kid in labels:
                raise TrustStoreError(f"two keys share the kid {key.kid!r}")
            material = _algorithms.thumbprint(key.key)
            if material in materials:
                raise TrustStoreError(
                    f"the key {key.kid!r} is already in the store under another kid"
                )
            labels.add(key.kid)
            materials.add(material)
            slot = (key.alg, key.wire_kid)
            self._by_wire[slot] = (*self._by_wire.get(slot, ()), key)

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"TrustStore({[key.kid for key in self._keys]!r})"

    def candidates(self, alg: Algorithm, wire_kid: bytes) -> tuple[PublicKey, ...]:
        """The trusted keys a credential signed with ``alg`` under ``wire_kid`` may be from."""
        return self._by_wire.get((alg, wire_kid), ())

    def with_key(self, key: PublicKey) -> TrustStore:
        """A new store holding these keys and ``key``."""
        return TrustStore((*self._keys, key))

    def to_jwks(self) -> dict[str, Any]:
        """The store as a JWK Set (RFC 7517 section 5)."""
        return {"keys": [key.to_jwk() for key in self._keys]}

    @classmethod
    def from_jwks(cls, jwks: Any) -> TrustStore:
        """Load a JWK Set; raise TrustStoreError naming the entry that is unusable."""
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise TrustStoreError("a trust store is a JWK Set: an object with a 'keys' array")
        keys = []
        for position, jwk in enumerate(jwks["keys"]):
            try:
                keys.append(PublicKey.from_jwk(jwk))
            except InvalidKey as error:
                raise TrustStoreError(f"key {position} of the trust store: {error}") from None
        return cls(keys)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrustStore:
        """Parse a JWK Set file's content (UTF-8 JSON); raise TrustStoreError if unusable."""
        try:
            return cls.from_jwks(_json.loads(bytes(data)))
        except JSONInputError as error:
            raise TrustStoreError(f"the trust store is not valid JSON: {error}") from None

    def to_bytes(self) -> bytes:
        """The store as a JWK Set file's content."""
        return (json.dumps(self.to_jwks(), indent=2) + "\n").encode("utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrustStore:
        """Read a JWK Set file written by :meth:`save` (the file I/O is ``_files``'s)."""
        return cls.from_bytes(read_file(path, TrustStoreError, "trust store"))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the store as a JWK Set file, replacing any previous file atomically."""
        write_atomically(Path(path), self.to_bytes())
