"""Display policies: each shows exactly its fields, never the status index."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityid_card import Credential, IssuerKey, TrustStore, verify
from cityid_card.credential import MAX_DATE, MIN_DATE
from cityid_card.desk import POLICIES, PolicyError, age_on, get_policy
from cityid_card.desk.policy import DEFAULT_AGE, FIELDS
from cityid_card.errors import Expired, MalformedCredential
from cityid_card.verifier import VerifiedCredential
from tests.conftest import sample_credential

EXPECTED = {
    "library": {"valid", "name", "expires"},
    "museum": {"valid"},  # + pseudonym once a generation-2 card supplies one
    "transit": {"valid"},
    "age-check": {"valid", "age_over_21"},
    "benefits": {"valid", "name", "date_of_birth", "gender", "expires"},
}
TODAY = date(2027, 6, 1)


@dataclass(frozen=True)
class _Gen2Result:
    """A result as a generation-2 chip card will hand it: with a venue pseudonym."""

    credential: Credential
    pseudonym: bytes


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


def test_museum_shows_a_generation_2_pseudonym_in_hex_and_nothing_else() -> None:
    result = _Gen2Result(sample_credential(), bytes(range(16)))
    assert get_policy("museum").show(result, TODAY) == {
        "valid": True,
        "pseudonym": bytes(range(16)).hex(),
    }
    # The library policy has no pseudonym, even when the card supplies one.
    assert "pseudonym" not in get_policy("library").show(result, TODAY)


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
    pseudonym=st.none() | st.binary(min_size=8, max_size=32),
    today=_DATES,
)
def test_no_policy_ever_leaks_a_field_it_does_not_allow(
    credential: Credential, spec: str, pseudonym: bytes | None, today: date
) -> None:
    policy = get_policy(spec)
    result = _result(credential) if pseudonym is None else _Gen2Result(credential, pseudonym)
    shown = policy.show(result, today)
    assert set(shown) <= policy.keys
    assert set(shown) - {"pseudonym"} == policy.keys - {"pseudonym"}
    assert policy.fields <= FIELDS
    assert "status_index" not in policy.keys
    # No value of a field the policy does not allow appears as any value it returns.
    hidden = {
        "name": credential.name,
        "date_of_birth": credential.date_of_birth.isoformat(),
        "gender": credential.gender,
        "expires": credential.expires.isoformat(),
        "pseudonym": None if pseudonym is None else pseudonym.hex(),
    }
    values = {json.dumps(value) for value in shown.values()}
    allowed = {json.dumps(hidden[label]) for label in policy.fields}
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
