"""The command APDUs of the EAC steps, byte for byte."""

from __future__ import annotations

import pytest

from cityid_card.eac import EacEncodingError, ca, commands, pace, ri, sm, ta
from tests.eac.pki import cvca_certificate, make_pki, seeded_key

PKI = make_pki()


def test_pace_commands() -> None:
    mse = commands.mse_set_at(
        commands.MSE_PACE, pace.mse_set_at(pace.ID_PACE_ECDH_GM_AES_CBC_CMAC_128)
    )
    assert mse.hex() == "0022c1a40f800a04007f00070202040202830102"
    assert commands.general_authenticate(b"\x7c\x00", last=False).hex() == "10860000027c0000"
    assert commands.general_authenticate(b"\x7c\x00").hex() == "00860000027c0000"


def test_ta_commands() -> None:
    assert (
        commands.mse_set_dst("USCHICVCA00001").hex()
        == "002281b6108" + "30e" + b"USCHICVCA00001".hex()
    )
    verify = commands.pso_verify_certificate(PKI.terminal)
    assert verify[:4] == bytes.fromhex("002a00be")
    assert sm.decode_apdu(verify).data == PKI.terminal[4:]  # 7F21 81 LL stripped
    assert commands.get_challenge().hex() == "0084000008"
    assert commands.external_authenticate(bytes(64)).hex() == "0082000040" + "00" * 64
    check = commands.verify_auxiliary_data(ta.ID_DATE_OF_BIRTH)
    assert check.hex() == "002080000b060904007f000703010401"


def test_a_link_certificate_needs_an_extended_apdu() -> None:
    link = cvca_certificate(seeded_key("cvca2"), "USCHICVCA00002", signer=PKI.cvca_key)
    apdu = commands.pso_verify_certificate(link)
    assert len(link) > 255 and apdu[4] == 0 and sm.decode_apdu(apdu).extended


def test_ca_and_ri_commands() -> None:
    assert commands.mse_set_at(commands.MSE_CA_RI, ca.mse_set_at()).hex() == (
        "002241a40c800a04007f00070202030202"
    )
    assert commands.mse_set_at(commands.MSE_CA_RI, ri.mse_set_at()).hex() == (
        "002241a40f800a04007f00070202050203840101"
    )


def test_mse_rejects_other_p1() -> None:
    with pytest.raises(EacEncodingError):
        commands.mse_set_at(0x01, b"")


@pytest.mark.parametrize("bad", ["", "é", "x" * 17, "A\nB"])
def test_references_are_checked_before_encoding(bad: str) -> None:
    with pytest.raises(EacEncodingError):
        commands.mse_set_dst(bad)
    with pytest.raises(EacEncodingError):
        ta.mse_set_at(bad, bytes(32))
