"""specs/vectors/ndef_vectors.json: regenerated, then replayed through nfcpy and the emulators."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cityid_card import TrustStore, type2
from cityid_card.type2 import errors, ndef
from cityid_card.type2.emulator import TEST_ORIGINALITY_KEY, EmulatedNtag
from cityid_card.type2.session import verify_tag
from tests.conftest import NOW, VECTORS, load_generator

from .conftest import Field

generator = load_generator("ndef_vectors")
CHECKED_IN: dict[str, Any] = json.loads((VECTORS / "ndef_vectors.json").read_text("utf-8"))
VECTOR_IDS = [vector["id"] for vector in CHECKED_IN["vectors"]]
TRUST = TrustStore.load(VECTORS / "trust.json")


def test_regenerating_gives_the_checked_in_files() -> None:
    document, image = generator.build()
    assert generator.dump(document) == (VECTORS / "ndef_vectors.json").read_text("utf-8")
    assert image == (VECTORS / "ndef_ntag213.bin").read_bytes()
    assert document["originality_key"] == TEST_ORIGINALITY_KEY.hex()


def _tag(vector: dict[str, Any]) -> EmulatedNtag:
    product = {p.name: p for p in type2.PRODUCTS}[vector["product"]]
    return EmulatedNtag(product, bytes.fromhex(vector["memory"]))


@pytest.mark.parametrize("vector_id", VECTOR_IDS)
def test_every_vector_reaches_its_outcome(field: Field, vector_id: str) -> None:
    vector = CHECKED_IN["vectors"][VECTOR_IDS.index(vector_id)]
    expected = vector["expected"]
    tag = _tag(vector)
    keys = [bytes.fromhex(CHECKED_IN["originality_key"])]
    if not expected["valid"]:
        with pytest.raises(getattr(errors, expected["error"])):
            verify_tag(field.tag(tag), TRUST, NOW, originality_keys=keys)
        return
    result = verify_tag(field.tag(tag), TRUST, NOW, originality_keys=keys)
    assert result.authenticity.name.lower() == expected["authenticity"]
    assert tag.signature.hex() == vector["read_sig"] and tag.uid.hex() == vector["uid"]
    credential = bytes.fromhex(vector["credential"])
    assert ndef.encode_message(credential).hex() == vector["message"]
    memory = bytes.fromhex(vector["memory"])
    start = 18 if len(vector["message"]) // 2 < 255 else 20
    assert memory[start : start + len(vector["message"]) // 2].hex() == vector["message"]
    if "authenticity_with_nxp_key_only" in expected:
        plain = verify_tag(field.tag(_tag(vector)), TRUST, NOW)
        assert plain.authenticity.name.lower() == expected["authenticity_with_nxp_key_only"]


def test_the_write_frames_turn_a_factory_tag_into_the_image() -> None:
    for vector in CHECKED_IN["vectors"][:2]:
        product = {p.name: p for p in type2.PRODUCTS}[vector["product"]]
        memory = bytearray(type2.factory_memory(product, bytes.fromhex(vector["uid"])))
        pages = [page for page, _ in vector["writes_from_factory"]]
        # Page 4 is zeroed first unless the factory image already starts 03 00 (NTAG215).
        zeroed = memory[16:18] != b"\x03\x00"
        assert (pages[0] == 4) is zeroed and pages[-1] == 4
        assert pages[zeroed:-1] == sorted(pages[zeroed:-1]) and 4 not in pages[zeroed:-1]
        for page, data in vector["writes_from_factory"]:
            memory[page * 4 : page * 4 + 4] = bytes.fromhex(data)
        assert memory.hex() == vector["memory"]


def test_the_reference_image_is_the_first_vector() -> None:
    image = (VECTORS / "ndef_ntag213.bin").read_bytes()
    assert image.hex() == CHECKED_IN["vectors"][0]["memory"] and len(image) == 180
    assert CHECKED_IN["vectors"][0]["read_frames"] == ["3a0228"]  # one FAST_READ, pages 2-40
