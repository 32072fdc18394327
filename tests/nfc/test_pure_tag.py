"""The core's tag session, medium and lock procedure on the pure emulator, without nfcpy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cityid_card import IssuerKey, TrustStore, media, type2
from cityid_card.media import Authenticity
from cityid_card.type2.emulator import TEST_ORIGINALITY_KEY, EmulatedNtag, EmulatedTagLink
from cityid_card.type2.errors import TagLocked, TagRemoved
from cityid_card.type2.medium import NfcTag
from cityid_card.type2.session import TagSession, read_tag, write_tag
from tests.conftest import REPO, sample_credential

from .conftest import TODAY, UID


def test_write_verify_and_lock_a_tag_with_no_reader_library(es256: IssuerKey) -> None:
    trust = TrustStore([es256.public()])
    tag = EmulatedNtag(type2.NTAG215, uid=UID)
    link = EmulatedTagLink(tag)
    assert link.product is type2.NTAG215 and link.frames == 1  # GET_VERSION
    medium = media.medium_for(link)
    done = medium.personalise(es256, sample_credential(), lock=True, today=TODAY, open_record=True)
    assert done.authenticity is Authenticity.TAG_UID_BOUND and done.locked
    again = NfcTag(EmulatedTagLink(tag), originality_keys=[TEST_ORIGINALITY_KEY])
    result = again.verify(trust, TODAY)
    assert result.authenticity is Authenticity.ORIGINALITY_CHECKED
    # One FAST_READ up to the data area's first 160 bytes: an NTAG215's dynamic lock
    # bytes are not in it, so the lock state is unknown, and read on demand it is True.
    assert result.facts.locked is None and result.facts.exchanges == 2
    session = TagSession(EmulatedTagLink(tag))
    session.read_lock_bytes()
    assert session.locked() is True
    with pytest.raises(TagLocked):
        write_tag(EmulatedTagLink(tag), done.blob, open_record=True)
    generic = EmulatedTagLink(tag).read_generic(17, 35)  # READ, 16 bytes a frame
    assert len(generic) == 18 and generic[4:16] == b"cityid.org:c"


def test_a_tag_pulled_away_raises_tag_removed(es256: IssuerKey) -> None:
    tag = EmulatedNtag(type2.NTAG213, uid=UID)
    blob = es256.issue(sample_credential())
    tag.remove_at_write(3, "before")
    with pytest.raises(TagRemoved):
        write_tag(EmulatedTagLink(tag), blob, open_record=True)
    tag.insert()
    assert TagSession(EmulatedTagLink(tag)).contents().value == "blank"
    write_tag(EmulatedTagLink(tag), blob, open_record=True)
    assert read_tag(EmulatedTagLink(tag))[0] == blob


def test_the_core_tag_stack_imports_no_nfcpy() -> None:
    script = (
        "import sys\n"
        "from cityid_card import IssuerKey, TrustStore, media, type2\n"
        "from cityid_card.type2.emulator import EmulatedNtag, EmulatedTagLink\n"
        "from tests.conftest import sample_credential, NOW\n"
        "key = IssuerKey.generate('ES256', kid='K')\n"
        "link = EmulatedTagLink(EmulatedNtag(type2.NTAG213))\n"
        "media.medium_for(link).write(key.issue(sample_credential()), open_record=True)\n"
        "result = media.medium_for(link).verify(TrustStore([key.public()]), NOW.date())\n"
        "assert result.facts.exchanges == 1, result.facts\n"
        "print(sorted(m for m in sys.modules if m == 'nfc' or m.startswith('nfc.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
