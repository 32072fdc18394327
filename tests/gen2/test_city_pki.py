"""The city's terminal PKI in memory (``make_city_pki``, ``CityPki.terminal``)."""

from __future__ import annotations

import pytest

from cityid_card.eac import P256, cvc
from cityid_card.eac.errors import EacEncodingError
from cityid_card.iso7816.gen2.pki import SECTOR_ROLES, make_city_pki
from tests.gen2.helpers import TODAY, key


def test_a_terminal_chains_to_the_root_and_names_its_sector() -> None:
    city = make_city_pki("USCHI", TODAY, cvca_key=key("cvca"))
    assert (city.cvca_chr, cvc.parse_certificate(city.cvca).body.chr) == ("USCHICVCA00001",) * 2
    access = city.terminal("museum", TODAY, sequence=7)
    dv = cvc.parse_certificate(access.dv_certificate).body
    terminal = cvc.parse_certificate(access.terminal_certificate).body
    assert (dv.car, dv.chr, terminal.car, terminal.chr) == (
        "USCHICVCA00001", "USCHIDVMUS00007", "USCHIDVMUS00007", "USCHIMUST00007",
    )  # fmt: skip
    assert access.rights == cvc.SERVICE_RIGHTS["museum"]
    assert access.sector_public_key == P256.public_key(city.sectors["museum"])
    assert city.sector_public_key("benefits") is None
    assert city.terminal("benefits", TODAY).sector_public_key is None


def test_the_sector_keys_are_fresh_and_distinct_unless_given() -> None:
    first, second = make_city_pki("USCHI", TODAY), make_city_pki("USCHI", TODAY)
    assert set(first.sectors) == set(SECTOR_ROLES)
    assert len(set(first.sectors.values()) | set(second.sectors.values())) == 2 * len(SECTOR_ROLES)
    assert first.cvca != second.cvca  # same name, another key


def test_an_age_is_given_exactly_for_an_age_check_terminal() -> None:
    city = make_city_pki("USCHI", TODAY)
    assert city.terminal("age-check", TODAY, age=18).age == 18
    with pytest.raises(EacEncodingError, match="age"):
        city.terminal("age-check", TODAY)
    with pytest.raises(EacEncodingError, match="age"):
        city.terminal("library", TODAY, age=21)
    with pytest.raises(EacEncodingError, match="unknown role"):
        city.terminal("bakery", TODAY)


def test_sector_keys_must_cover_every_role_with_pseudonyms() -> None:
    with pytest.raises(EacEncodingError, match="sector key"):
        make_city_pki("USCHI", TODAY, sectors={"library": 5})
