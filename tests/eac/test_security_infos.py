"""EF.CardAccess: the profile's SecurityInfos, byte for byte, and strict parsing."""

from __future__ import annotations

import pytest

from cityid_card.eac import EacEncodingError, tlv
from cityid_card.eac.security_infos import CardAccess
from tests.eac import worked_example as we

PROFILE = bytes.fromhex(
    "314f"  # SET OF SecurityInfo, 79 bytes, in DER order:
    "300d060804007f0007020202020102"  # TerminalAuthenticationInfo, version 2
    "300f060a04007f00070202030202020102"  # ChipAuthenticationInfo, version 2
    "3012060a04007f0007020204020202010202010c"  # PACEInfo, version 2, P-256 (12)
    "3019060904007f000702020302300c060704007f0007010202010c"  # CA domain parameters: 12
)


def test_the_profiles_ef_card_access() -> None:
    assert CardAccess().encode() == PROFILE
    assert CardAccess.decode(PROFILE) == CardAccess()
    with_key = CardAccess(ca_key_id=1).encode()
    assert CardAccess.decode(with_key) == CardAccess(1)
    assert len(with_key) == 87


def test_the_worked_examples_ef_card_access_parses_once_on_p256() -> None:
    # The BSI example names brainpoolP256r1 (13): outside the profile, so rejected ...
    with pytest.raises(EacEncodingError):
        CardAccess.decode(we.EF_CARD_ACCESS)
    # ... and with 12 in its place, its unknown SecurityInfos (a CardInfoLocator and a
    # PrivilegedTerminalInfo) are skipped and key 1 is read.
    on_p256 = we.EF_CARD_ACCESS.replace(bytes.fromhex("02010d"), bytes.fromhex("02010c"))
    assert CardAccess.decode(on_p256) == CardAccess(1)


def _set(*infos: bytes) -> bytes:
    return tlv.encode(0x31, list(infos))


@pytest.mark.parametrize(
    "bad",
    [
        PROFILE[:-1],
        PROFILE + b"\x00",
        _set(
            *reversed([tlv.encode(0x30, v) for _, v in tlv.decode_all(tlv.expect(PROFILE, 0x31))])
        ),
        _set(*[tlv.encode(0x30, v) for _, v in tlv.decode_all(tlv.expect(PROFILE, 0x31))][1:]),
        PROFILE.replace(bytes.fromhex("020102"), bytes.fromhex("020101"), 1),
        PROFILE.replace(bytes.fromhex("02010c"), bytes.fromhex("0202000c"), 1),
        CardAccess(1).encode().replace(bytes.fromhex("0c020101"), bytes.fromhex("0c020102")),
        _set(tlv.encode(0x04, b"")),
        b"\x30\x00",
    ],
)
def test_malformed_ef_card_access_is_rejected(bad: bytes) -> None:
    with pytest.raises(EacEncodingError):
        CardAccess.decode(bad)
