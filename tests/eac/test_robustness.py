"""Every parser of the card side and the terminal side, fed hostile bytes: an EacError, never
a crash, and no error message that repeats what it was given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityid_card.eac import P256, EacError, ca, cvc, pace, ri, sm, ta
from tests.eac.pki import make_pki

PKI = make_pki()
KEYS = pace.session_keys(bytes(32))

PARSERS: dict[str, Callable[[bytes], object]] = {
    "certificate": cvc.parse_certificate,
    "chat": cvc.Chat.decode,
    "auxiliary data": ta.parse_auxiliary_data,
    "TA MSE:Set AT": ta.parse_mse_set_at,
    "CA command": ca.parse_command_data,
    "CA response": ca.parse_response_data,
    "RI command": lambda data: ri.parse_command_data(P256, data),
    "RI response": ri.parse_response_data,
    "point": P256.decode_point,
    "SM command": lambda data: sm.unwrap_command(KEYS, 1, data),
    "SM response": lambda data: sm.unwrap_response(KEYS, 2, data),
    "GA data": lambda data: pace.parse_dynamic_authentication_data(data, (0x85,)),
}

SEEDS = {
    "certificate": PKI.terminal,
    "chat": cvc.Chat(cvc.Role.TERMINAL, 5).encode(),
    "auxiliary data": ta.auxiliary_data(None, date(2027, 1, 1)),
    "TA MSE:Set AT": ta.mse_set_at("USCHILIBDSK00001", bytes(32)),
    "CA command": ca.command_data(P256.public_key(3)),
    "CA response": ca.response_data(bytes(8), bytes(8)),
    "RI command": ri.command_data(P256.public_key(3)),
    "RI response": ri.response_data(bytes(32)),
    "point": P256.public_key(3),
    "SM command": sm.wrap_command(KEYS, 1, bytes.fromhex("00b0000010")),
    "SM response": sm.wrap_response(KEYS, 2, b"abc", 0x9000),
    "GA data": pace.dynamic_authentication_data((0x85, bytes(8))),
}


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    flip = st.tuples(st.integers(0, max(len(seed) - 1, 0)), st.integers(1, 255)).map(
        lambda change: (
            seed[: change[0]] + bytes([seed[change[0]] ^ change[1]]) + seed[change[0] + 1 :]
        )
    )
    cut = st.integers(0, len(seed)).map(lambda end: seed[:end])
    extend = st.binary(min_size=1, max_size=4).map(lambda tail: seed + tail)
    return st.one_of(flip, cut, extend, st.binary(max_size=80))


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_the_seed_parses(name: str) -> None:
    PARSERS[name](SEEDS[name])


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_hostile_bytes_raise_only_eac_errors_that_do_not_echo_them(
    name: str, data: st.DataObject
) -> None:
    hostile = data.draw(_mutations(SEEDS[name]))
    try:
        PARSERS[name](hostile)
    except EacError as error:
        message = str(error)
        assert len(hostile) < 4 or hostile.hex() not in message.lower()
        assert repr(hostile) not in message
