"""The reader loop on the emulated readers: arrivals, removals, one verification per tap."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from cityid_card.desk import Arrival, event_json, get_policy
from cityid_card.drivers import SimConnection
from cityid_card.errors import Expired
from cityid_card.iso7816.applet import CardApplication
from cityid_card.iso7816.errors import BlankCard
from cityid_card.iso7816.session import personalize
from cityid_card.media import Authenticity, Verification
from cityid_card.sim_io import card_in_file
from cityid_card.type2 import NTAG213
from cityid_card.type2.emulator import EmulatedNtag
from cityid_card.type2.errors import TagRemoved
from cityid_card.type2.session import personalize_tag
from cityid_card_nfc.driver import Type2Connection
from cityid_card_nfc.sim import open_emulated
from tests.conftest import run_cli, sample_credential

from .conftest import DESK_NOW, HOLDER, Issuer, LiveServer, desk_config
from .helpers import Field, kinds, personalized_card, run, streaming

TODAY = DESK_NOW.date()


def _written_tag(issuer: Issuer) -> EmulatedNtag:
    """An NTAG213 with a credential bound to its UID (a short name: 144 bytes hold it)."""
    tag = EmulatedNtag(NTAG213)
    link = open_emulated(tag)
    assert isinstance(link, Type2Connection)
    personalize_tag(
        link, issuer.key, sample_credential(name="Ana Rivera"), today=TODAY, open_record=True
    )
    return tag


def test_a_card_left_on_the_reader_is_verified_once(issuer: Issuer, tmp_path: Path) -> None:
    state = tmp_path / "card.json"
    application = card_in_file(state)
    personalize(SimConnection(application), issuer.key, sample_credential(), today=TODAY)
    events = run(issuer.trust, f"sim:card:{state}", None, [lambda: None] * 20)
    assert kinds(events) == ["valid"]
    arrival = events[0]
    assert isinstance(arrival, Arrival) and isinstance(arrival.result, Verification)
    assert arrival.result.authenticity is Authenticity.CHIP_AUTHENTICATED
    assert arrival.result.credential.name == HOLDER


def test_contact_cards_come_and_go(issuer: Issuer) -> None:
    field = Field()
    good, expired = (
        personalized_card(issuer),
        personalized_card(issuer, issued=date(2020, 1, 1), expires=date(2021, 1, 1)),
    )
    steps: list[Callable[[], None]] = [
        lambda: None,  # an empty field, polled
        lambda: field.put(good),
        lambda: None,  # the card stays: no new event
        lambda: None,
        field.take,
        lambda: field.put(expired),
        field.take,
        lambda: field.put(CardApplication()),  # a blank card
        field.take,
        lambda: None,
    ]
    events = run(issuer.trust, "field", field, steps)
    assert kinds(events) == ["valid", "removal", "Expired", "removal", "BlankCard", "removal"]
    assert field.opened == 3  # once per card, not once per poll
    assert isinstance(events[2], Arrival) and isinstance(events[2].error, Expired)
    assert isinstance(events[4], Arrival) and isinstance(events[4].error, BlankCard)


def test_nfc_tags_come_and_go(issuer: Issuer) -> None:
    field = Field()
    tag = _written_tag(issuer)
    steps: list[Callable[[], None]] = [
        lambda: field.put(tag),
        lambda: None,
        lambda: None,
        field.take,
        lambda: field.put(EmulatedNtag(NTAG213)),  # a blank tag
        field.take,
        lambda: field.put(tag),  # the first tag again: a new tap, verified again
        field.take,
    ]
    events = run(issuer.trust, "field", field, steps)
    assert kinds(events) == ["valid", "removal", "BlankTag", "removal", "valid", "removal"]
    arrival = events[0]
    assert isinstance(arrival, Arrival) and isinstance(arrival.result, Verification)
    # Bound to the tag's UID; the emulator's originality key is not NXP's.
    assert arrival.result.authenticity is Authenticity.TAG_UID_BOUND


def test_a_tag_pulled_away_mid_read(issuer: Issuer) -> None:
    field = Field()
    tag = _written_tag(issuer)

    def half_a_tap() -> None:
        field.put(tag)
        field.pull_after_activation = True

    events = run(issuer.trust, "field", field, [half_a_tap, field.take, lambda: None])
    assert kinds(events) == ["TagRemoved", "removal"]
    assert isinstance(events[0], Arrival) and isinstance(events[0].error, TagRemoved)


def test_emulated_tags_through_the_sim_driver(issuer: Issuer, tmp_path: Path) -> None:
    image = tmp_path / "tag.bin"
    tag = _written_tag(issuer)
    image.write_bytes(bytes(tag.memory))
    events = run(issuer.trust, f"sim:ntag213:{image}", None, [lambda: None] * 10)
    assert kinds(events) == ["valid"]


def test_events_as_json_show_what_the_policy_allows(issuer: Issuer) -> None:
    field = Field()
    events = run(
        issuer.trust, "field", field, [lambda: field.put(personalized_card(issuer)), field.take]
    )
    arrival, removal = (event_json(e, get_policy("library"), TODAY, 3) for e in events)
    assert arrival == {
        "event": "arrival",
        "reader": "field",
        "valid": True,
        "name": HOLDER,
        "expires": "2031-11-20",
        "authenticity": "chip_authenticated",
        "status_list_age_days": 3,
    }
    assert removal == {"event": "removal", "reader": "field"}
    transit = event_json(events[0], get_policy("transit"), TODAY)
    assert HOLDER not in json.dumps(transit) and "4711" not in json.dumps(transit)
    rejected = Arrival("field", None, Expired("the credential expired"), 0.0)
    assert event_json(rejected, get_policy("benefits"), TODAY) == {
        "event": "arrival",
        "reader": "field",
        "valid": False,
        "error": "Expired",
        "status_list_age_days": None,
    }


def test_the_watch_command_prints_json_lines(
    issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, trust = tmp_path / "card.json", tmp_path / "trust.json"
    issuer.trust.save(trust)
    application = card_in_file(state)
    personalize(SimConnection(application), issuer.key, sample_credential(), today=TODAY)
    argv = ["watch", "--reader", f"sim:card:{state}", "--trust", str(trust), "--count", "1"]
    status, out, err = run_cli(capsys, *argv, "--json", "--policy", "age-check:18")
    assert status == 0 and err == ""
    (line,) = out.splitlines()
    assert json.loads(line) == {
        "event": "arrival",
        "reader": f"sim:card:{state}",
        "valid": True,
        "age_over_18": True,
        "authenticity": "chip_authenticated",
        "status_list_age_days": None,
    }
    status, out, _ = run_cli(capsys, *argv)
    assert status == 0
    assert (
        out
        == f"card on sim:card:{state}: VALID name {HOLDER}, expires 2031-11-20 [chip_authenticated]\n"
    )


def test_the_service_streams_the_reader_loop(
    issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cityid_card.cli.serve import reader_events

    field = Field()
    card = personalized_card(issuer)
    verifier = desk_config(issuer).verifier
    inner = reader_events("field", verifier, get_policy("museum"), None)
    config = desk_config(issuer)

    def source(stop: threading.Event) -> Iterator[dict[str, object]]:
        while config.hub.subscribers == 0 and not stop.is_set():  # the page is open
            stop.wait(0.01)
        field.put(card)  # and a card is tapped
        return iter(inner(stop))

    config.events = source
    monkeypatch.setattr("cityid_card.desk.loop.load_driver", lambda scheme: field)
    with streaming(LiveServer(config).start()) as stream:
        event = stream.next()
    assert event == {
        "event": "arrival",
        "reader": "field",
        "valid": True,
        "authenticity": "chip_authenticated",
        "status_list_age_days": None,
    }


def test_an_iso_dep_card_through_the_sim_driver(issuer: Issuer, tmp_path: Path) -> None:
    state = tmp_path / "card.json"
    application = card_in_file(state)
    personalize(SimConnection(application), issuer.key, sample_credential(), today=TODAY)
    events = run(issuer.trust, f"sim:isodep:{state}", None, [lambda: None] * 10)
    assert kinds(events) == ["valid"]
    arrival = events[0]
    assert isinstance(arrival, Arrival) and isinstance(arrival.result, Verification)
    assert arrival.result.authenticity is Authenticity.CHIP_AUTHENTICATED


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--interval", "-1"], "the interval is 0.01 to 60 seconds"),
        (["--interval", "x"], "expected a number of seconds"),
        (["--count", "0"], "expected a whole number of 1 or more"),
    ],
)
def test_watch_usage_errors(
    issuer: Issuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    trust = tmp_path / "trust.json"
    issuer.trust.save(trust)
    with pytest.raises(SystemExit) as info:
        run_cli(capsys, "watch", "--reader", "sim:card", "--trust", str(trust), *extra)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_watch_problems_exit_2(
    issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "trust.json"
    issuer.trust.save(trust)
    status, out, err = run_cli(capsys, "watch", "--reader", "nosuch:0", "--trust", str(trust))
    assert status == 2 and "(DriverError)" in err
    status, out, err = run_cli(
        capsys, "watch", "--reader", "sim:card", "--trust", str(trust), "--policy", "x", "--json"
    )
    assert status == 2 and json.loads(out)["error"] == "PolicyError"
    status, _, err = run_cli(
        capsys, "watch", "--reader", "sim:card", "--trust", str(tmp_path / "none.json")
    )
    assert status == 2 and "(TrustStoreError)" in err


def test_a_reader_that_still_reports_a_pulled_card_makes_no_ghost_taps(issuer: Issuer) -> None:
    field = Field()
    field.stale_opens = 5
    card = personalized_card(issuer)
    steps: list[Callable[[], None]] = [
        lambda: field.put(card),
        field.take,  # removal seen by the presence check; then 5 opens to a ghost
        *[lambda: None] * 8,
        lambda: field.put(card),  # a real new tap
        field.take,
    ]
    events = run(issuer.trust, "field", field, steps)
    assert kinds(events) == ["valid", "removal", "valid", "removal"]
    assert field.stale_opens == 0  # the loop did look, and kept quiet
