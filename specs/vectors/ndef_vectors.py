"""Generate ``ndef_vectors.json`` and ``ndef_ntag213.bin``: the NDEF mapping's test vectors.

Run ``python specs/vectors/ndef_vectors.py`` to rewrite them. The tags are written by
the library's own writer, through nfcpy, into emulated tags with fixed UIDs; the
credentials are signed by the seeded vector keys of ``make_vectors.py``; the
originality signatures are made with the emulators' public test key. The sealed record
(section 2.3) uses a fixed key and nonce here, never in the library's writer. Everything
is deterministic, so the test suite checks that regenerating gives the checked-in files.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from cityid_card import qr, type2
from cityid_card.type2 import Product, ndef, seal
from cityid_card.type2.emulator import TEST_ORIGINALITY_KEY, EmulatedNtag
from cityid_card.type2.session import TagLink, TagSession, write_tag
from cityid_card_nfc.sim import open_emulated

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_vectors import BASE, NOW, dump, seeded_key  # noqa: E402

UID_213 = bytes.fromhex("04a1b2c3d4e5f6")
UID_215 = bytes.fromhex("04c0ffee00ba11")
UID_SEALED = bytes.fromhex("045ea1ed0a7a60")
#: The sealed vectors' key and nonce: fixed so the vectors are reproducible.
SEAL_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
OTHER_KEY = bytes.fromhex("f0e0d0c0b0a090807060504030201000")
NONCE = bytes.fromhex("cafebabefacedbaddecaf888")


class _Recorder:
    """A TagLink that records the WRITE frames the writer sends."""

    def __init__(self, link: Any) -> None:
        self.link = link
        self.writes: list[list[Any]] = []
        self.frames_sent: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.link, name)

    def command(self, frame: bytes) -> bytes:
        if frame[0] == type2.Command.WRITE:
            self.writes.append([frame[1], frame[2:].hex()])
        self.frames_sent.append(frame.hex())
        answer: bytes = self.link.command(frame)
        return answer


def _written(product: Product, uid: bytes, blob: bytes) -> tuple[EmulatedNtag, list[list[Any]]]:
    tag = EmulatedNtag(product, uid=uid)
    connection = open_emulated(tag)
    try:
        recorder = _Recorder(connection)
        write_tag(cast(TagLink, recorder), blob, open_record=True)
    finally:
        connection.close()
    return tag, recorder.writes


def _read_frames(tag: EmulatedNtag) -> list[str]:
    connection = open_emulated(tag)
    try:
        recorder = _Recorder(connection)
        TagSession(cast(TagLink, recorder)).read_credential()
    finally:
        connection.close()
    return recorder.frames_sent


def _hostile(
    vector_id: str, description: str, memory: bytes, error: str, product: Product = type2.NTAG213
) -> dict[str, Any]:
    return {
        "id": vector_id,
        "description": description,
        "product": product.name,
        "memory": memory.hex(),
        "expected": {"valid": False, "error": error},
    }


def build() -> tuple[dict[str, Any], bytes]:
    """Return (ndef_vectors.json, ndef_ntag213.bin)."""
    key = seeded_key("ES256", "VEC-ES256-1")
    reference = key.issue(BASE)
    bound = key.issue(replace(BASE, name="Ana Rivera Delgado", tag_uid=UID_215))
    tag213, writes213 = _written(type2.NTAG213, UID_213, reference)
    tag215, writes215 = _written(type2.NTAG215, UID_215, bound)
    image = bytes(tag213.memory)
    blank = type2.factory_memory(type2.NTAG213, UID_213)
    vectors: list[dict[str, Any]] = [
        {
            "id": "ntag213-reference",
            "description": "the 120-byte reference credential (24-character name) on an NTAG213",
            "product": "NTAG213",
            "uid": UID_213.hex(),
            "credential": reference.hex(),
            "message": ndef.encode_message(reference).hex(),
            "memory": image.hex(),
            "read_sig": tag213.signature.hex(),
            "read_frames": _read_frames(tag213),
            "writes_from_factory": writes213,
            "expected": {"valid": True, "authenticity": "signature_only"},
        },
        {
            "id": "ntag215-uid-bound",
            "description": "a credential bound to the tag's UID, with an originality signature",
            "product": "NTAG215",
            "uid": UID_215.hex(),
            "credential": bound.hex(),
            "message": ndef.encode_message(bound).hex(),
            "memory": bytes(tag215.memory).hex(),
            "read_sig": tag215.signature.hex(),
            "read_frames": _read_frames(tag215),
            "writes_from_factory": writes215,
            "expected": {
                "valid": True,
                "authenticity": "originality_checked",
                "authenticity_with_nxp_key_only": "tag_uid_bound",
            },
        },
    ]
    sealed_credential = key.issue(replace(BASE, tag_uid=UID_SEALED))
    payload = seal.seal(sealed_credential, SEAL_KEY, nonce=NONCE)
    sealed_message = ndef.encode_sealed_message(payload)
    size = type2.NTAG215.capability_container.size
    sealed_image = type2.with_data_area(
        type2.factory_memory(type2.NTAG215, UID_SEALED),
        type2.data_area_image(sealed_message, size),
    )
    tampered = bytearray(sealed_image)
    tampered[16 + 4 + 3 + 12 + 1 + 12 + 40] ^= 0x01  # a ciphertext byte
    sealed = {
        "product": "NTAG215",
        "uid": UID_SEALED.hex(),
        "credential": sealed_credential.hex(),
        "seal_key": SEAL_KEY.hex(),
        "nonce": NONCE.hex(),
        "sealed_payload": payload.hex(),
        "message": sealed_message.hex(),
        "qr_text": qr.encode_sealed(sealed_credential, SEAL_KEY),
    }
    vectors += [
        {
            "id": "ntag215-sealed",
            "description": "the reference credential bound to the tag's UID, sealed "
            "(cityid.org:s) under the key of the face's CIDS1: QR code",
            **sealed,
            "memory": sealed_image.hex(),
            "read_sig": EmulatedNtag(type2.NTAG215, sealed_image).signature.hex(),
            "expected": {
                "valid": True,
                "authenticity": "originality_checked",
                "authenticity_with_nxp_key_only": "tag_uid_bound",
                "error_without_key": "SealedTag",
            },
        },
        {
            **_hostile(
                "sealed-wrong-key",
                "the sealed tag opened with another card's key",
                sealed_image,
                "SealError",
                type2.NTAG215,
            ),
            "seal_key": OTHER_KEY.hex(),
        },
        {
            **_hostile(
                "sealed-ciphertext-changed",
                "one bit of the sealed record's ciphertext flipped",
                bytes(tampered),
                "SealError",
                type2.NTAG215,
            ),
            "seal_key": SEAL_KEY.hex(),
        },
    ]
    area = image[16:160]
    vectors += [
        _hostile("factory-ntag213", "a new NTAG213 as NXP ships it", blank, "BlankTag"),
        _hostile(
            "ndef-length-beyond-memory",
            "the NDEF TLV claims 200 bytes in a 144-byte data area",
            type2.with_data_area(image, b"\x03\xc8" + area[2:]),
            "NdefLengthError",
        ),
        _hostile(
            "ndef-long-length-beyond-memory",
            "the NDEF TLV's 3-byte length claims 65534 bytes",
            type2.with_data_area(image, b"\x03\xff\xff\xfe" + area[4:]),
            "NdefLengthError",
        ),
        _hostile(
            "control-tlv-past-the-end",
            "a Memory Control TLV whose length runs past the data area",
            type2.with_data_area(blank, bytes(140) + b"\x02\x03\x00\x00"),
            "TlvError",
        ),
        _hostile(
            "wrong-capability-container",
            "page 3 without the NDEF magic number",
            image[:12] + b"\x00\x10\x12\x00" + image[16:],
            "CapabilityContainerError",
        ),
        _hostile(
            "capability-container-too-large",
            "the capability container announces 2040 bytes on an NTAG213",
            image[:12] + b"\xe1\x10\xff\x00" + image[16:],
            "CapabilityContainerError",
        ),
        _hostile(
            "record-of-another-type",
            "a URI record (https://example.org) instead of a credential",
            type2.with_data_area(
                blank,
                type2.data_area_image(
                    ndef.encode_records(
                        [ndef.NdefRecord(ndef.Tnf.WELL_KNOWN, b"U", payload=b"\x04example.org")]
                    ),
                    144,
                ),
            ),
            "NotOurTag",
        ),
        _hostile(
            "record-lengths-disagree",
            "the NDEF TLV is one byte longer than the record inside it",
            type2.with_data_area(image, b"\x03\x8a" + area[2:]),
            "NdefFormatError",
        ),
    ]
    document = {
        "format": "cityid-card NDEF mapping test vectors",
        "spec": "specs/ndef-mapping.md",
        "record_type": ndef.RECORD_TYPE.decode("ascii"),
        "sealed_record_type": ndef.SEALED_RECORD_TYPE.decode("ascii"),
        "now": NOW,
        "trust": "trust.json",
        "originality_key": TEST_ORIGINALITY_KEY.hex(),
        "vectors": vectors,
    }
    return document, image


def main() -> int:
    document, image = build()
    (HERE / "ndef_vectors.json").write_text(dump(document), encoding="utf-8")
    (HERE / "ndef_ntag213.bin").write_bytes(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
