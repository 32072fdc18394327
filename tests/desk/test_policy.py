"""Display policies: each shows exactly its fields, never the status index."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityid_card import Credential, IssuerKey, TrustStore, verify
from cityid_card.credential import MAX_DATE, MIN_DATE
from cityid_card.desk import (
    POLICIES,
    CardResult,
    PolicyError,
    PolicyMismatch,
    age_on,
    get_policy,
    policy_for_role,
)
from cityid_card.desk.policy import DEFAULT_AGE, FIELDS
from cityid_card.errors import Expired, MalformedCredential
from cityid_card.iso7816.gen2 import Disclosure, disclose
from cityid_card.media import Authenticity, Facts
from cityid_card.verifier import VerifiedCredential
from tests.conftest import sample_credential
from tests.gen2.helpers import CAN, make_city
from tests.gen2.helpers import TODAY as GEN2_TODAY

EXPECTED = {
    "library": {"valid", "name", "expires"},  # + pseudonym from a generation-2 card
    "museum": {"valid"},  # + pseudonym from a generation-2 card
    "transit": {"valid"},
    "age-check": {"valid", "age_over_21"},
    "benefits": {"valid", "name", "date_of_birth", "gender", "expires"},
}
TODAY = date(2027, 6, 1)


#: What each role's terminal is granted by a generation-2 card (cityid_card.eac.cvc).
GRANTS = {
    "library": frozenset({"name", "expires", "pseudonym"}),
    "transit": frozenset({"pseudonym"}),
    "museum": frozenset({"pseudonym"}),
    "age-check": frozenset({"age"}),
    "benefits": frozenset({"name", "date_of_birth", "gender", "expires"}),
}


def _disclosure(credential: Credential, role: str, pseudonym: bytes, today: date) -> Disclosure:
    """What a generation-2 card holding ``credential``'s data tells a ``role`` terminal."""
    granted = GRANTS[role]
    age = 21 if role == "age-check" else None
    return Disclosure(
        role=role,
        valid=True,
        authenticity=Authenticity.CHIP_AUTHENTICATED,
        facts=Facts("chip_card"),
        issuer="CHI-2026-1",
        today=today,
        name=credential.name if "name" in granted else None,
        date_of_birth=credential.date_of_birth if "date_of_birth" in granted else None,
        gender=credential.gender if "gender" in granted else None,
        expires=credential.expires if "expires" in granted else None,
        pseudonym=pseudonym if "pseudonym" in granted else None,
        age=age,
        age_over=None if age is None else age_on(credential.date_of_birth, today) >= age,
        granted=granted,
    )


def _result(credential: Credential) -> VerifiedCredential:
    return VerifiedCredential(credential, "CHI-2026-1", "ES256")


@pytest.mark.parametrize("name", POLICIES)
def test_each_policy_shows_exactly_its_fields(name: str) -> None:
    shown = get_policy(name).show(_result(sample_credential(gender="X")), TODAY)
    assert set(shown) == EXPECTED[name]
    assert shown["valid"] is True
    assert "status_index" not in json.dumps(shown)


def test_library_and_benefits_values() -> None:
    credential = sample_credential(gender="X")
    assert get_policy("library").show(_result(credential), TODAY) == {
        "valid": True,
        "name": "Ana Sofia Rivera Delgado",
        "expires": "2031-11-20",
    }
    assert get_policy("benefits").show(_result(credential), TODAY) == {
        "valid": True,
        "name": "Ana Sofia Rivera Delgado",
        "date_of_birth": "1990-04-12",
        "gender": "X",
        "expires": "2031-11-20",
    }


def test_a_generation_2_card_shows_what_the_policy_allows_of_what_the_chip_granted() -> None:
    credential = sample_credential(gender="X")
    pseudonym = bytes(range(16))
    museum = _disclosure(credential, "museum", pseudonym, TODAY)
    assert get_policy("museum").show(museum, TODAY) == {"valid": True, "pseudonym": pseudonym.hex()}
    assert get_policy("transit").show(museum, TODAY) == {"valid": True}
    # Benefits may show the name, but a museum terminal was never told it.
    assert get_policy("benefits").show(museum, TODAY) == {"valid": True}
    library = _disclosure(credential, "library", pseudonym, TODAY)
    assert get_policy("library").show(library, TODAY) == {
        "valid": True,
        "name": "Ana Sofia Rivera Delgado",
        "expires": "2031-11-20",
        "pseudonym": pseudonym.hex(),
    }
    age = _disclosure(credential, "age-check", pseudonym, TODAY)
    assert get_policy("age-check").show(age, TODAY) == {"valid": True, "age_over_21": True}
    # The chip answered about 21 only: an 18 question has no answer.
    assert get_policy("age-check:18").show(age, TODAY) == {"valid": True, "age_over_18": None}


def test_a_generation_2_card_not_valid_today_is_a_rejection() -> None:
    museum = replace(
        _disclosure(sample_credential(), "museum", bytes(8), TODAY),
        valid=False,
        valid_on_date=False,
    )
    assert get_policy("museum").show(museum, TODAY) == {"valid": False, "error": "Expired"}


def test_every_role_of_a_real_generation_2_card_through_its_policy() -> None:
    city = make_city()
    for role in GRANTS:
        access = city.terminal(role)
        result = disclose(city.card(), access, CAN, today=GEN2_TODAY, trust=city.trust)
        shown = policy_for_role(role, access.age).show(result, GEN2_TODAY)
        expected = EXPECTED[role] | ({"pseudonym"} if role in ("library", "museum") else set())
        assert set(shown) == expected, role
        assert shown["valid"] is True
        if "pseudonym" in shown:
            assert result.pseudonym is not None and shown["pseudonym"] == result.pseudonym.hex()


def test_a_terminal_serves_only_its_own_policy() -> None:
    assert policy_for_role("museum", None).name == "museum"
    assert policy_for_role("age-check", 18).min_age == 18
    assert policy_for_role("age-check", 18, "age-check:18").min_age == 18
    for role, age, spec in [
        ("museum", None, "benefits"),
        ("library", None, "museum"),
        ("age-check", 18, "age-check"),
        ("age-check", 21, "age-check:18"),
        ("transit", None, "age-check"),
    ]:
        with pytest.raises(PolicyMismatch):
            policy_for_role(role, age, spec)


def test_age_check_default_and_explicit_age() -> None:
    credential = sample_credential(date_of_birth=date(2006, 6, 2))  # 21 on 2027-06-02
    assert get_policy("age-check").min_age == DEFAULT_AGE == 21
    assert get_policy("age-check").show(_result(credential), TODAY) == {
        "valid": True,
        "age_over_21": False,
    }
    assert get_policy("age-check").show(_result(credential), TODAY + timedelta(1)) == {
        "valid": True,
        "age_over_21": True,
    }
    assert get_policy("age-check:18").show(_result(credential), TODAY) == {
        "valid": True,
        "age_over_18": True,
    }


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(2004, 2, 29), date(2025, 2, 28), 20),  # common year: not yet on 28 February
        (date(2004, 2, 29), date(2025, 3, 1), 21),  # ... but on 1 March
        (date(2004, 2, 29), date(2028, 2, 28), 23),  # leap year: on the day itself
        (date(2004, 2, 29), date(2028, 2, 29), 24),
        (date(2004, 3, 1), date(2025, 2, 28), 20),
        (date(2004, 2, 28), date(2025, 2, 28), 21),
        (date(2004, 12, 31), date(2025, 12, 31), 21),
        (date(2004, 12, 31), date(2025, 12, 30), 20),
    ],
)
def test_age_on_birthdays_including_29_february(born: date, today: date, age: int) -> None:
    assert age_on(born, today) == age


def _reference_birthday(born: date, years: int) -> date:
    """The day someone born on ``born`` turns ``years``: 1 March for 29 February in common years."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    years=st.integers(min_value=1, max_value=120),
)
def test_age_on_matches_the_birthday_calendar(born: date, years: int) -> None:
    birthday = _reference_birthday(born, years)
    assert age_on(born, birthday) == years
    assert age_on(born, birthday - timedelta(days=1)) == years - 1


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "Library",
        "age-check:",
        "age-check:0",
        "age-check:x",
        "age-check:151",
        "age-check:٢١",
        "library:1",
        "status_index",
    ],
)
def test_unknown_policies_are_refused(spec: str) -> None:
    with pytest.raises(PolicyError) as info:
        get_policy(spec)
    assert spec not in str(info.value) or spec in ("", "age-check:")


def test_rejections_show_only_the_error_name() -> None:
    for name in POLICIES:
        assert get_policy(name).reject(Expired("the credential expired")) == {
            "valid": False,
            "error": "Expired",
        }


_TEXT = st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=8).map(
    lambda text: unicodedata.normalize("NFC", text)
)
_DATES = st.dates(min_value=MIN_DATE, max_value=MAX_DATE)


@st.composite
def _credentials(draw: st.DrawFn) -> Credential:
    born, issued, expires = sorted(draw(st.lists(_DATES, min_size=3, max_size=3)))
    return Credential(
        name=draw(_TEXT),
        date_of_birth=born,
        issued=issued,
        expires=expires,
        gender=draw(st.none() | _TEXT),
        status_index=draw(st.integers(0, 2**32 - 1)),
        card_key=draw(st.none() | st.just(b"\x02" + bytes(32))),
        tag_uid=draw(st.none() | st.binary(min_size=7, max_size=7)),
        pseudonym_key=draw(st.none() | st.just(b"\x03" + bytes(32))),
    )


_SPECS = st.sampled_from(POLICIES) | st.integers(1, 150).map(lambda n: f"age-check:{n}")


@settings(max_examples=300)
@given(
    credential=_credentials(),
    spec=_SPECS,
    role=st.none() | st.sampled_from(sorted(GRANTS)),
    pseudonym=st.binary(min_size=8, max_size=32),
    today=_DATES,
)
def test_no_policy_ever_leaks_a_field_it_does_not_allow(
    credential: Credential, spec: str, role: str | None, pseudonym: bytes, today: date
) -> None:
    policy = get_policy(spec)
    result: CardResult = (
        _result(credential) if role is None else _disclosure(credential, role, pseudonym, today)
    )
    shown = policy.show(result, today)
    granted = FIELDS if role is None else GRANTS[role]
    assert set(shown) <= policy.keys
    assert set(shown) - FIELDS == policy.keys - FIELDS
    assert set(shown) & FIELDS == policy.fields & granted - (
        {"pseudonym"} if role is None else set()
    )
    assert policy.fields <= FIELDS
    assert "status_index" not in policy.keys
    # No value of a field the policy does not allow appears as any value it returns.
    hidden = {
        "name": credential.name,
        "date_of_birth": credential.date_of_birth.isoformat(),
        "gender": credential.gender,
        "expires": credential.expires.isoformat(),
        "pseudonym": pseudonym.hex(),
    }
    values = {json.dumps(value) for value in shown.values()}
    allowed = {json.dumps(hidden[label]) for label in policy.fields & granted}
    for label, value in hidden.items():
        if label not in policy.fields and value is not None and json.dumps(value) not in allowed:
            assert json.dumps(value) not in values
    assert json.dumps(credential.status_index) not in values
    for extension in (credential.tag_uid, credential.card_key):
        if extension is not None:
            assert json.dumps(extension.hex()) not in values


def test_a_real_verification_through_each_policy() -> None:
    key = IssuerKey.generate("ES256", kid="CHI-2026-1")
    blob = key.issue(sample_credential(gender="X"))
    result = verify(blob, TrustStore([key.public()]), TODAY)
    for name in POLICIES:
        assert set(get_policy(name).show(result, TODAY)) == EXPECTED[name]
    with pytest.raises(MalformedCredential) as info:
        verify(blob[:-1], TrustStore([key.public()]), TODAY)
    assert get_policy().reject(info.value) == {"valid": False, "error": "MalformedCredential"}
