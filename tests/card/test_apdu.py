"""Short APDUs: building, parsing (truncated and hostile input included), status words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityid_card.iso7816 import apdu
from cityid_card.iso7816.apdu import SW, CommandApdu
from cityid_card.iso7816.errors import CardProtocolError

commands = st.builds(
    CommandApdu,
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=255),
    st.none() | st.integers(1, 256),
)


@given(commands)
def test_encode_decode_round_trip(command: CommandApdu) -> None:
    assert CommandApdu.decode(command.encode()) == command


@given(st.binary(max_size=300))
def test_decoding_any_bytes_gives_a_command_or_a_typed_error(raw: bytes) -> None:
    try:
        command = CommandApdu.decode(raw)
    except CardProtocolError:
        return
    assert command.encode() == raw


@pytest.mark.parametrize(
    ("raw", "case"),
    [
        ("00440000", (b"", None)),
        ("00B0810000", (b"", 256)),
        ("00B08100FF", (b"", 255)),
        ("00D6810003010203", (b"\x01\x02\x03", None)),
        ("0088000002AABB00", (b"\xaa\xbb", 256)),
        ("0088000002AABB40", (b"\xaa\xbb", 64)),
    ],
)
def test_the_four_cases(raw: str, case: tuple[bytes, int | None]) -> None:
    command = CommandApdu.decode(bytes.fromhex(raw))
    assert (command.data, command.le) == case


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "4-byte header"),
        ("00B081", "4-byte header"),
        ("00B08100000100", "extended-length"),
        ("00D6810005010203", "Lc field"),
        ("00D681000201020304", "Lc field"),
    ],
)
def test_malformed_commands(raw: str, message: str) -> None:
    with pytest.raises(CardProtocolError, match=message):
        CommandApdu.decode(bytes.fromhex(raw))


@pytest.mark.parametrize(
    "fields",
    [(256, 0, 0, 0, b"", None), (0, 0, 0, 0, bytes(256), None), (0, 0, 0, 0, b"", 0)],
)
def test_commands_outside_short_apdus_are_refused(
    fields: tuple[int, int, int, int, bytes, int | None],
) -> None:
    with pytest.raises(ValueError, match=r"byte|255|Ne"):
        CommandApdu(*fields)


def test_builders_match_the_spec() -> None:
    aid = "F043495459494401"
    assert apdu.select_application().encode().hex().upper() == f"00A4040008{aid}00"
    assert apdu.select_application(fci=False).encode().hex().upper() == f"00A4040C08{aid}"
    assert apdu.read_binary(0, sfi=True).encode().hex().upper() == "00B0810000"
    assert apdu.read_binary(0x1234, 16).encode().hex().upper() == "00B0123410"
    assert apdu.update_binary(7, b"\x01", sfi=True).encode().hex().upper() == "00D681070101"
    assert apdu.generate_key_pair().encode().hex().upper() == "0047800000"
    assert apdu.internal_authenticate(bytes(32)).encode().hex().upper() == (
        "0088000020" + "00" * 32 + "00"
    )
    assert apdu.activate().encode().hex().upper() == "00440000"
    assert apdu.get_response(16).encode().hex().upper() == "00C0000010"
    with pytest.raises(ValueError, match="SFI"):
        apdu.read_binary(256, sfi=True)
    with pytest.raises(ValueError, match="offset"):
        apdu.update_binary(0x8000, b"\x00")
    with pytest.raises(ValueError, match="32 bytes"):
        apdu.internal_authenticate(bytes(16))


def test_split_response() -> None:
    assert apdu.split_response(b"\x01\x02\x90\x00") == (b"\x01\x02", 0x9000)
    assert apdu.split_response(b"\x6a\x82") == (b"", 0x6A82)
    for truncated in (b"", b"\x90"):
        with pytest.raises(CardProtocolError, match="status word"):
            apdu.split_response(truncated)
    assert apdu.encode_response(b"\x01", SW.END_OF_FILE) == b"\x01\x62\x82"


@pytest.mark.parametrize("sw", list(SW))
def test_every_status_word_of_the_application_has_its_iso_name(sw: SW) -> None:
    described = apdu.describe_sw(sw)
    assert described.startswith(f"{sw:04X} (")
    assert "checking error" not in described and "not an ISO" not in described


@pytest.mark.parametrize(
    ("sw", "meaning"),
    [
        (0x6110, "16 more response bytes"),
        (0x6100, "256 more response bytes"),
        (0x6C40, "wrong Le field, 64 bytes"),
        (0x63C2, "2 tries left"),
        (0x6200, "unchanged"),
        (0x6300, "changed"),
        (0x6600, "execution error"),
        (0x6999, "checking error"),
        (0x1234, "not an ISO 7816-4 status word"),
    ],
)
def test_status_word_families(sw: int, meaning: str) -> None:
    assert meaning in apdu.describe_sw(sw)
