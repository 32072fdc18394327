"""OpenPACE (libeac) through ctypes: the independent EAC peer of the interoperability tests.

OpenPACE is GPL-licensed, so it is a test-only peer: nothing under src/ imports it.
``./scripts/test`` installs Debian's ``libeac3`` (and ``openpace`` for ``cvc-create`` and
``cvc-print``). Byte strings cross the boundary as OpenSSL ``BUF_MEM`` objects; each
``EAC_CTX`` is one party. Only documented libeac functions are called, except
:meth:`OpenPace.set_ri_key`, which reaches the RI key through the ``EAC_CTX``/``RI_CTX``
structures of ``<eac/eac.h>`` (libeac has no setter for it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Any

PACE_CAN = 2  # enum s_type in <eac/pace.h>
EAC_ID_PACE = 0  # <eac/eac.h>
EAC_ID_CA = 1
P256_PARAMETER_ID = 12


class BufMem(ctypes.Structure):
    """OpenSSL's ``BUF_MEM`` (``<openssl/buffer.h>``)."""

    _fields_ = [
        ("length", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("max", ctypes.c_size_t),
        ("flags", ctypes.c_ulong),
    ]


class RiCtx(ctypes.Structure):
    """``RI_CTX`` of ``<eac/eac.h>``."""

    _fields_ = [
        ("protocol", ctypes.c_int),
        ("id", ctypes.c_int),
        ("md", ctypes.c_void_p),
        ("generate_key", ctypes.c_void_p),
        ("compute_key", ctypes.c_void_p),
        ("static_key", ctypes.c_void_p),
    ]


class EacCtx(ctypes.Structure):
    """``EAC_CTX`` of ``<eac/eac.h>`` (the leading fields, up to the RI context)."""

    _fields_ = [
        ("tr_version", ctypes.c_int),
        ("bn_ctx", ctypes.c_void_p),
        ("md_ctx", ctypes.c_void_p),
        ("cipher_ctx", ctypes.c_void_p),
        ("pace_ctx", ctypes.c_void_p),
        ("pace_ctxs", ctypes.c_void_p),
        ("ri_ctx", ctypes.POINTER(RiCtx)),
    ]


BUF = ctypes.POINTER(BufMem)
CTX = ctypes.POINTER(EacCtx)
_c = ctypes


class OpenPaceError(Exception):
    """A libeac call failed (returned NULL or 0)."""


def load() -> ctypes.CDLL | None:
    """libeac, or None when it is not installed."""
    name = ctypes.util.find_library("eac")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _declare(lib: ctypes.CDLL) -> None:
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "EAC_init": (None, []),
        "EAC_CTX_new": (CTX, []),
        "EAC_CTX_clear_free": (None, [CTX]),
        "EAC_CTX_init_pace": (_c.c_int, [CTX, _c.c_int, _c.c_int]),
        "EAC_CTX_init_ca": (_c.c_int, [CTX, _c.c_int, _c.c_int]),
        "EAC_CTX_init_ri": (_c.c_int, [CTX, _c.c_int, _c.c_int]),
        "EAC_CTX_init_ef_cardaccess": (_c.c_int, [_c.c_char_p, _c.c_size_t, CTX]),
        "EAC_CTX_init_ta": (_c.c_int, [CTX, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t]),
        "EAC_CTX_set_encryption_ctx": (_c.c_int, [CTX, _c.c_int]),
        "EAC_set_ssc": (_c.c_int, [CTX, _c.c_ulong]),
        "EAC_encrypt": (BUF, [CTX, BUF]),
        "EAC_decrypt": (BUF, [CTX, BUF]),
        "EAC_authenticate": (BUF, [CTX, BUF]),
        "EAC_Comp": (BUF, [CTX, _c.c_int, BUF]),
        "BUF_MEM_create_init": (BUF, [_c.c_char_p, _c.c_size_t]),
        "BUF_MEM_clear_free": (None, [BUF]),
        "PACE_SEC_new": (_c.c_void_p, [_c.c_char_p, _c.c_size_t, _c.c_int]),
        "PACE_SEC_clear_free": (None, [_c.c_void_p]),
        "PACE_STEP1_enc_nonce": (BUF, [CTX, _c.c_void_p]),
        "PACE_STEP2_dec_nonce": (_c.c_int, [CTX, _c.c_void_p, BUF]),
        "PACE_STEP3A_generate_mapping_data": (BUF, [CTX]),
        "PACE_STEP3A_map_generator": (_c.c_int, [CTX, BUF]),
        "PACE_STEP3B_generate_ephemeral_key": (BUF, [CTX]),
        "PACE_STEP3B_compute_shared_secret": (_c.c_int, [CTX, BUF]),
        "PACE_STEP3C_derive_keys": (_c.c_int, [CTX]),
        "PACE_STEP3D_compute_authentication_token": (BUF, [CTX, BUF]),
        "PACE_STEP3D_verify_authentication_token": (_c.c_int, [CTX, BUF]),
        "CA_set_key": (_c.c_int, [CTX, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t]),
        "CA_STEP4_compute_shared_secret": (_c.c_int, [CTX, BUF]),
        "CA_STEP5_derive_keys": (_c.c_int, [CTX, BUF, _c.POINTER(BUF), _c.POINTER(BUF)]),
        "CA_STEP6_derive_keys": (_c.c_int, [CTX, BUF, BUF]),
        "TA_disable_checks": (None, [CTX]),
        "TA_STEP2_import_certificate": (_c.c_int, [CTX, _c.c_char_p, _c.c_size_t]),
        "TA_STEP4_set_nonce": (_c.c_int, [CTX, BUF]),
        "TA_STEP5_sign": (BUF, [CTX, BUF, BUF, BUF]),
        "TA_STEP6_verify": (_c.c_int, [CTX, BUF, BUF, BUF, BUF]),
        "RI_STEP2_compute_identifier": (BUF, [CTX, BUF]),
        "EVP_PKEY_set_keys": (
            _c.c_int,
            [_c.c_void_p, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t, _c.c_void_p],
        ),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


class OpenPace:
    """libeac with its object identifiers registered; creates contexts (parties)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        _declare(lib)
        lib.EAC_init()
        self.lib = lib
        self.pace_nid = self._nid("NID_id_PACE_ECDH_GM_AES_CBC_CMAC_128")
        self.ca_nid = self._nid("NID_id_CA_ECDH_AES_CBC_CMAC_128")
        self.ri_nid = self._nid("NID_id_RI_ECDH_SHA_256")

    def _nid(self, name: str) -> int:
        return ctypes.c_int.in_dll(self.lib, name).value

    def buf(self, data: bytes) -> Any:
        pointer = self.lib.BUF_MEM_create_init(data, len(data))
        if not pointer:
            raise OpenPaceError("BUF_MEM_create_init")
        return pointer

    def take(self, pointer: Any, what: str) -> bytes:
        """The bytes of a BUF_MEM libeac returned, which is then freed."""
        if not pointer:
            raise OpenPaceError(what)
        data = ctypes.string_at(pointer.contents.data, pointer.contents.length)
        self.lib.BUF_MEM_clear_free(pointer)
        return data

    def call(self, function: Callable[..., int], *args: Any, what: str) -> None:
        if function(*args) != 1:
            raise OpenPaceError(what)

    def party(self) -> Party:
        return Party(self)


class Party:
    """One EAC context: an OpenPACE card or terminal."""

    def __init__(self, op: OpenPace) -> None:
        self.op = op
        self.lib = op.lib
        self.ctx = self.lib.EAC_CTX_new()
        if not self.ctx:
            raise OpenPaceError("EAC_CTX_new")
        self._bufs: list[Any] = []

    def close(self) -> None:
        for pointer in self._bufs:
            self.lib.BUF_MEM_clear_free(pointer)
        self._bufs.clear()
        self.lib.EAC_CTX_clear_free(self.ctx)

    def __enter__(self) -> Party:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _in(self, data: bytes) -> Any:
        pointer = self.op.buf(data)
        self._bufs.append(pointer)
        return pointer

    # PACE ------------------------------------------------------------------------------

    def init_pace(self) -> None:
        self.op.call(
            self.lib.EAC_CTX_init_pace,
            self.ctx,
            self.op.pace_nid,
            P256_PARAMETER_ID,
            what="init_pace",
        )

    def init_card_access(self, ef_card_access: bytes) -> None:
        """Select PACE's and CA's protocols and parameters from an EF.CardAccess."""
        self.op.call(
            self.lib.EAC_CTX_init_ef_cardaccess,
            ef_card_access,
            len(ef_card_access),
            self.ctx,
            what="EF.CardAccess",
        )

    def encrypt_nonce(self, can: str) -> bytes:
        secret = self.lib.PACE_SEC_new(can.encode(), len(can), PACE_CAN)
        try:
            return self.op.take(self.lib.PACE_STEP1_enc_nonce(self.ctx, secret), "enc_nonce")
        finally:
            self.lib.PACE_SEC_clear_free(secret)

    def decrypt_nonce(self, can: str, encrypted: bytes) -> None:
        secret = self.lib.PACE_SEC_new(can.encode(), len(can), PACE_CAN)
        try:
            self.op.call(
                self.lib.PACE_STEP2_dec_nonce,
                self.ctx,
                secret,
                self._in(encrypted),
                what="dec_nonce",
            )
        finally:
            self.lib.PACE_SEC_clear_free(secret)

    def mapping_data(self) -> bytes:
        return self.op.take(self.lib.PACE_STEP3A_generate_mapping_data(self.ctx), "mapping data")

    def map_generator(self, peer_mapping_data: bytes) -> None:
        self.op.call(
            self.lib.PACE_STEP3A_map_generator, self.ctx, self._in(peer_mapping_data), what="map"
        )

    def ephemeral_key(self) -> bytes:
        return self.op.take(self.lib.PACE_STEP3B_generate_ephemeral_key(self.ctx), "ephemeral key")

    def shared_secret(self, peer: bytes) -> None:
        self.op.call(
            self.lib.PACE_STEP3B_compute_shared_secret, self.ctx, self._in(peer), what="secret"
        )
        self.op.call(self.lib.PACE_STEP3C_derive_keys, self.ctx, what="derive keys")

    def token(self, peer: bytes) -> bytes:
        return self.op.take(
            self.lib.PACE_STEP3D_compute_authentication_token(self.ctx, self._in(peer)), "token"
        )

    def verify_token(self, token: bytes) -> bool:
        return bool(
            self.lib.PACE_STEP3D_verify_authentication_token(self.ctx, self._in(token)) == 1
        )

    # Secure messaging (after PACE) -----------------------------------------------------

    def start_sm(self, protocol: int = EAC_ID_PACE) -> None:
        """Secure messaging with the keys of PACE or (``EAC_ID_CA``) Chip Authentication."""
        self.op.call(self.lib.EAC_CTX_set_encryption_ctx, self.ctx, protocol, what="sm")

    def encrypt(self, ssc: int, padded: bytes) -> bytes:
        self.op.call(self.lib.EAC_set_ssc, self.ctx, ssc, what="ssc")
        return self.op.take(self.lib.EAC_encrypt(self.ctx, self._in(padded)), "encrypt")

    def decrypt(self, ssc: int, cryptogram: bytes) -> bytes:
        self.op.call(self.lib.EAC_set_ssc, self.ctx, ssc, what="ssc")
        return self.op.take(self.lib.EAC_decrypt(self.ctx, self._in(cryptogram)), "decrypt")

    def mac(self, ssc: int, padded: bytes) -> bytes:
        self.op.call(self.lib.EAC_set_ssc, self.ctx, ssc, what="ssc")
        return self.op.take(self.lib.EAC_authenticate(self.ctx, self._in(padded)), "mac")

    def comp(self, public: bytes, protocol: int = EAC_ID_PACE) -> bytes:
        return self.op.take(self.lib.EAC_Comp(self.ctx, protocol, self._in(public)), "comp")

    # Chip Authentication ---------------------------------------------------------------

    def init_ca(self) -> None:
        self.op.call(
            self.lib.EAC_CTX_init_ca, self.ctx, self.op.ca_nid, P256_PARAMETER_ID, what="init_ca"
        )

    def ca_card(
        self, private: bytes, public: bytes, terminal_ephemeral: bytes
    ) -> tuple[bytes, bytes]:
        """OpenPACE as the card: (nonce, token) for the terminal's ephemeral key."""
        self.op.call(
            self.lib.CA_set_key, self.ctx, private, len(private), public, len(public), what="ca key"
        )
        peer = self._in(terminal_ephemeral)
        self.op.call(self.lib.CA_STEP4_compute_shared_secret, self.ctx, peer, what="ca secret")
        nonce, token = BUF(), BUF()
        self.op.call(
            self.lib.CA_STEP5_derive_keys,
            self.ctx,
            peer,
            ctypes.byref(nonce),
            ctypes.byref(token),
            what="ca keys",
        )
        return self.op.take(nonce, "ca nonce"), self.op.take(token, "ca token")

    def ca_terminal(
        self,
        ephemeral_private: bytes,
        ephemeral_public: bytes,
        chip_public: bytes,
        nonce: bytes,
        token: bytes,
    ) -> bool:
        """OpenPACE as the terminal: whether the chip's token verifies."""
        self.op.call(
            self.lib.CA_set_key,
            self.ctx,
            ephemeral_private,
            len(ephemeral_private),
            ephemeral_public,
            len(ephemeral_public),
            what="ca key",
        )
        self.op.call(
            self.lib.CA_STEP4_compute_shared_secret, self.ctx, self._in(chip_public), what="ca"
        )
        return bool(self.lib.CA_STEP6_derive_keys(self.ctx, self._in(nonce), self._in(token)) == 1)

    # Terminal Authentication ----------------------------------------------------------

    def init_ta(self, private_key_der: bytes | None, certificate: bytes) -> None:
        """A terminal (its PKCS#8 key and certificate) or a card (no key, its CVCA)."""
        self.op.call(
            self.lib.EAC_CTX_init_ta,
            self.ctx,
            private_key_der,
            len(private_key_der or b""),
            certificate,
            len(certificate),
            what="init_ta",
        )

    def import_certificate(self, certificate: bytes) -> bool:
        return bool(
            self.lib.TA_STEP2_import_certificate(self.ctx, certificate, len(certificate)) == 1
        )

    def disable_time_checks(self) -> None:
        self.lib.TA_disable_checks(self.ctx)

    def ta_sign(
        self, challenge: bytes, ca_ephemeral: bytes, pace_card_ephemeral: bytes, aux: bytes
    ) -> bytes:
        self.op.call(self.lib.TA_STEP4_set_nonce, self.ctx, self._in(challenge), what="ta nonce")
        return self.op.take(
            self.lib.TA_STEP5_sign(
                self.ctx,
                self._in(ca_ephemeral),
                self._in(pace_card_ephemeral),
                self._in(aux) if aux else None,
            ),
            "ta sign",
        )

    def ta_verify(
        self,
        challenge: bytes,
        comp_ca_ephemeral: bytes,
        comp_pace_card: bytes,
        aux: bytes,
        signature: bytes,
    ) -> bool:
        self.op.call(self.lib.TA_STEP4_set_nonce, self.ctx, self._in(challenge), what="ta nonce")
        return bool(
            self.lib.TA_STEP6_verify(
                self.ctx,
                self._in(comp_ca_ephemeral),
                self._in(comp_pace_card),
                self._in(aux) if aux else None,
                self._in(signature),
            )
            == 1
        )

    # Restricted Identification --------------------------------------------------------

    def set_ri_key(self, private: bytes, public: bytes) -> None:
        self.op.call(
            self.lib.EAC_CTX_init_ri, self.ctx, self.op.ri_nid, P256_PARAMETER_ID, what="init_ri"
        )
        ri_ctx = self.ctx.contents.ri_ctx.contents
        self.op.call(
            self.lib.EVP_PKEY_set_keys,
            ri_ctx.static_key,
            private,
            len(private),
            public,
            len(public),
            self.ctx.contents.bn_ctx,
            what="ri key",
        )

    def sector_identifier(self, sector_public: bytes) -> bytes:
        return self.op.take(
            self.lib.RI_STEP2_compute_identifier(self.ctx, self._in(sector_public)), "ri"
        )
