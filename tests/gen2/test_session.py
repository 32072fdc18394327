"""The whole generation-2 flow on the in-process emulator: each role learns its fields only."""

from __future__ import annotations

from datetime import date

import pytest

from cityid_card.drivers import SimConnection
from cityid_card.eac import P256, cvc, ri
from cityid_card.iso7816.errors import CardRemoved
from cityid_card.iso7816.gen2 import (
    NotGeneration2,
    SecurityObjectInvalid,
    TerminalRefused,
    WrongCan,
    disclose,
    make_batch,
    personalize_gen2,
)
from cityid_card.iso7816.gen2.card import Gen2State
from cityid_card.iso7816.gen2.chip import EmulatedCard
from cityid_card.iso7816.gen2.constants import MAX_PACE_FAILURES_SUSPEND
from cityid_card.iso7816.session import personalize
from cityid_card.keys import IssuerKey
from cityid_card.media import Authenticity
from cityid_card.trust import TrustStore
from tests.conftest import sample_credential
from tests.gen2.helpers import CAN, HOLDER, OTHER, TODAY, City

EXPECTED = {
    "library": {"name", "expires", "pseudonym", "valid"},
    "transit": {"pseudonym", "valid"},
    "museum": {"pseudonym", "valid"},
    "age-check": {"age_over_21", "valid"},
    "benefits": {"name", "date_of_birth", "gender", "expires", "valid"},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_learns_exactly_its_fields(city: City, role: str) -> None:
    result = disclose(city.card(), city.terminal(role), CAN, today=TODAY, trust=city.trust)
    body = result.as_json()
    assert set(body) == EXPECTED[role]
    assert body["valid"] is True
    assert result.authenticity is Authenticity.CHIP_AUTHENTICATED
    assert result.issuer == "CHI-2026-1"
    if "name" in body:
        assert body["name"] == HOLDER.name
    if "date_of_birth" in body:
        assert body["date_of_birth"] == "1990-04-12" and body["gender"] == "X"
    if "expires" in body:
        assert body["expires"] == "2031-11-20"
    if "pseudonym" in body:
        assert len(bytes.fromhex(body["pseudonym"])) == 32
    fields = {"name", "date_of_birth", "gender", "expires", "pseudonym"} - EXPECTED[role]
    assert all(getattr(result, name) is None for name in fields)
    assert result.facts.exchanges is not None and result.facts.exchanges <= 20


def test_pseudonyms_are_stable_per_sector_and_differ_across_sectors_and_cards(city: City) -> None:
    card, other = city.card(), city.card(OTHER, "123456")
    seen = {}
    for role in ("library", "transit", "museum"):
        terminal = city.terminal(role)
        first = disclose(card, terminal, CAN, today=TODAY).pseudonym
        card.application.reset()
        again = disclose(card, city.terminal(role), CAN, today=TODAY).pseudonym
        card.application.reset()
        assert first == again
        assert first == ri.sector_identifier(P256, city.sectors[role], _id_public(card))
        seen[role] = first
        assert disclose(other, terminal, "123456", today=TODAY).pseudonym != first
        other.application.reset()
    assert len(set(seen.values())) == 3


def _id_public(card: SimConnection) -> bytes:
    application = card.application
    assert isinstance(application, EmulatedCard)
    state = application.chip_state
    assert isinstance(state, Gen2State) and state.id_key is not None
    return P256.public_key(int.from_bytes(state.id_key, "big"))


@pytest.mark.parametrize(("age", "over"), [(21, True), (36, True), (37, False), (99, False)])
def test_age_check_is_one_bit(city: City, age: int, over: bool) -> None:
    # Born 1990-04-12: 36 on 2027-01-15, not 37.
    result = disclose(city.card(), city.terminal("age-check", age=age), CAN, today=TODAY)
    assert result.as_json() == {f"age_over_{age}": over, "valid": True}


def test_an_expired_card_is_not_valid_for_a_gate_or_the_library(city: City) -> None:
    day = date(2027, 1, 15)  # OTHER expired 2026-12-31
    for role in ("transit", "library"):
        card = city.card(OTHER, "222222")
        result = disclose(card, city.terminal(role), "222222", today=day)
        assert result.valid is False


def test_a_wrong_can_is_refused_and_says_nothing(city: City) -> None:
    card = city.card()
    with pytest.raises(WrongCan) as raised:
        disclose(card, city.terminal("benefits"), "000000", today=TODAY)
    assert HOLDER.name not in str(raised.value)
    card.application.reset()
    assert disclose(card, city.terminal("benefits"), CAN, today=TODAY).valid


def test_wrong_cans_suspend_pace_to_one_try_per_power_up(city: City) -> None:
    card = city.card()
    terminal = city.terminal("transit")
    for _ in range(MAX_PACE_FAILURES_SUSPEND):
        with pytest.raises(WrongCan):
            disclose(card, terminal, "000001", today=TODAY)
    # Suspended: the right CAN works only as the first try after a power-up.
    with pytest.raises(WrongCan):
        disclose(card, terminal, CAN, today=TODAY)
    card.application.reset()
    with pytest.raises(WrongCan):
        disclose(card, terminal, "000002", today=TODAY)
    with pytest.raises(WrongCan):
        disclose(card, terminal, CAN, today=TODAY)  # second try in this power-up
    card.application.reset()
    assert disclose(card, terminal, CAN, today=TODAY).valid
    card.application.reset()
    with pytest.raises(WrongCan):  # the counter went back to zero: three tries again
        disclose(card, terminal, "000003", today=TODAY)
    assert disclose(card, terminal, CAN, today=TODAY).valid


def test_pulling_the_card_at_the_last_pace_step_counts_as_a_failure(city: City) -> None:
    card = city.card()
    application = card.application
    assert isinstance(application, EmulatedCard)
    for index in range(1, MAX_PACE_FAILURES_SUSPEND + 1):
        card.remove_at(5, "during")  # EF.CardAccess, MSE, GA 1-3, then GA 4 torn
        with pytest.raises(CardRemoved):
            disclose(card, city.terminal("transit"), CAN, today=TODAY)
        card.insert()
        state = application.chip_state
        assert isinstance(state, Gen2State) and state.pace_failures == index


def test_a_card_of_another_city_refuses_the_terminal(city: City) -> None:
    from tests.gen2.helpers import make_city

    elsewhere = make_city()
    elsewhere_card = SimConnection(EmulatedCard())
    other_root = make_batch(_other_cvca(), 5, elsewhere.issuer)
    personalize_gen2(elsewhere_card, HOLDER, other_root, can=CAN, today=date(2026, 12, 1))
    elsewhere_card.insert()
    with pytest.raises(TerminalRefused):
        disclose(elsewhere_card, city.terminal("library"), CAN, today=TODAY)


def _other_cvca() -> bytes:
    from cityid_card.iso7816.gen2.pki import make_cvca
    from tests.gen2.helpers import key

    return make_cvca(key("another city"), "USNYCCVCA00001", date(2026, 11, 1))


def test_an_untrusted_issuer_is_refused(city: City) -> None:
    stranger = TrustStore([IssuerKey.generate("ES256", kid="NYC-1").public()])
    with pytest.raises(SecurityObjectInvalid):
        disclose(city.card(), city.terminal("library"), CAN, today=TODAY, trust=stranger)


def test_a_clone_without_the_chip_key_fails_chip_authentication(city: City) -> None:
    # The attacker copies everything readable, but not the batch's private chip key.
    forged = make_batch(city.cvca, 12345, city.issuer)
    fake = SimConnection(EmulatedCard())
    batch = type(forged)(city.cvca, 12345, city.batch.card_security)
    personalize_gen2(fake, HOLDER, batch, can=CAN, today=date(2026, 12, 1))
    fake.insert()
    with pytest.raises(SecurityObjectInvalid):
        disclose(fake, city.terminal("transit"), CAN, today=TODAY, trust=city.trust)


def test_an_expired_terminal_certificate_is_refused(city: City) -> None:
    old = city.terminal("library", today=date(2026, 11, 2))  # expired 2026-12-02
    card = city.card()
    disclose(card, city.terminal("library"), CAN, today=TODAY)  # the card now knows 2027-01-15
    card.application.reset()
    with pytest.raises(TerminalRefused):
        disclose(card, old, CAN, today=TODAY)


def test_a_version_1_card_is_not_generation_2(city: City) -> None:
    card = SimConnection(EmulatedCard())
    issuer = IssuerKey.generate("ES256", kid="v1")
    personalize(card, issuer, sample_credential(), today=date(2026, 12, 1))
    with pytest.raises(NotGeneration2):
        disclose(card, city.terminal("library"), CAN, today=TODAY)


def test_the_card_accepts_only_its_sector(city: City) -> None:
    terminal = city.terminal("library")
    wrong = type(terminal)(
        terminal.role,
        terminal.dv_certificate,
        terminal.terminal_certificate,
        terminal.private_key,
        sector_public_key=P256.public_key(city.sectors["transit"]),
    )
    from cityid_card.iso7816.gen2 import AccessRefused

    with pytest.raises(AccessRefused):
        disclose(city.card(), wrong, CAN, today=TODAY)


def test_rights_are_what_the_certificates_grant(city: City) -> None:
    for role, expected in cvc.SERVICE_RIGHTS.items():
        assert city.terminal(role).rights == expected


def test_pace_is_blocked_for_good_after_100_failures(city: City) -> None:
    from dataclasses import replace

    from cityid_card.iso7816.gen2.constants import MAX_PACE_FAILURES_BLOCK

    card = city.card()
    application = card.application
    assert isinstance(application, EmulatedCard)
    state = application.chip_state
    assert isinstance(state, Gen2State)
    blocked = SimConnection(EmulatedCard(replace(state, pace_failures=MAX_PACE_FAILURES_BLOCK - 1)))
    with pytest.raises(WrongCan):
        disclose(blocked, city.terminal("transit"), "000009", today=TODAY)
    for _ in range(3):
        blocked.insert()
        with pytest.raises(WrongCan):  # the right CAN, first try after power-up: still refused
            disclose(blocked, city.terminal("transit"), CAN, today=TODAY)
    final = blocked.application
    assert isinstance(final, EmulatedCard)
    final_state = final.chip_state
    assert isinstance(final_state, Gen2State)
    assert final_state.pace_failures == MAX_PACE_FAILURES_BLOCK


def test_a_card_that_missed_two_rollovers_catches_up_through_the_links(city: City) -> None:
    from dataclasses import replace as with_

    from cityid_card.iso7816.gen2.pki import link_certificate, make_terminal
    from tests.gen2.helpers import key

    first, _ = link_certificate(
        city.cvca_key, "USCHICVCA00001", key("cvca 2"), "USCHICVCA00002", date(2026, 11, 20)
    )
    second, _ = link_certificate(
        key("cvca 2"), "USCHICVCA00002", key("cvca 3"), "USCHICVCA00003", date(2026, 12, 20)
    )
    chain = make_terminal(
        key("cvca 3"), "USCHICVCA00003", "benefits", date(2027, 1, 10), holder="USCHI"
    )
    terminal = city.terminal("benefits")
    access = with_(
        terminal,
        dv_certificate=chain.dv_certificate,
        terminal_certificate=chain.terminal_certificate,
        private_key=chain.terminal_key,
    )
    card = city.card()
    with pytest.raises(TerminalRefused):  # without the links the card knows no such root
        disclose(card, access, CAN, today=TODAY)
    card.insert()
    linked = with_(access, link_certificates=(first, second))
    assert disclose(card, linked, CAN, today=TODAY).name == HOLDER.name
    card.insert()
    assert disclose(card, access, CAN, today=TODAY).name == HOLDER.name  # for good now
    card.insert()
    with pytest.raises(TerminalRefused):  # and the old root's terminals are refused
        disclose(card, city.terminal("benefits"), CAN, today=TODAY)
