"""``cityid-card demo``'s generation-2 section: every fact computed on the emulated card."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityid_card.cli._demo_gen2 import AGE, ROLE_ORDER, generation_2
from cityid_card.credential import Credential
from cityid_card.eac.cvc import Rights
from cityid_card.iso7816.gen2.pki import ROLES
from tests.conftest import run_cli as run

NAME = "Ana Sofia Rivera Delgado"

#: What each right lets a terminal learn, by the key of Disclosure.as_json.
_RIGHT_KEYS = (
    (Rights.READ_NAME, "name"),
    (Rights.READ_DATE_OF_BIRTH, "date_of_birth"),
    (Rights.READ_GENDER, "gender"),
    (Rights.READ_EXPIRY, "expires"),
    (Rights.RESTRICTED_IDENTIFICATION, "pseudonym"),
    (Rights.AGE_VERIFICATION, f"age_over_{AGE}"),
)


def _expected_keys(role: str) -> set[str]:
    return {"valid"} | {key for right, key in _RIGHT_KEYS if ROLES[role] & right}


def _demo_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    status, out, _ = run(capsys, "demo", "--json")
    assert status == 0
    facts: dict[str, Any] = json.loads(out)["generation_2"]
    return facts


def test_each_role_learns_exactly_its_rights(capsys: pytest.CaptureFixture[str]) -> None:
    facts = _demo_json(capsys)
    reads = {read["role"]: read for read in facts["reads"]}
    assert list(reads) == list(ROLE_ORDER)
    for role, read in reads.items():
        assert set(read["fields"]) == _expected_keys(role), role
        assert (read["authenticity"], read["issuer"]) == ("chip_authenticated", facts["issuer_kid"])
        assert read["fields"]["valid"] is True
        assert 10 < read["apdus"] < 40
    # The brief's table, spelled out: what each service sees of the holder.
    assert set(reads["library"]["fields"]) == {"name", "expires", "pseudonym", "valid"}
    assert set(reads["museum"]["fields"]) == {"pseudonym", "valid"}
    assert set(reads["age-check"]["fields"]) == {"age_over_21", "valid"}
    benefits = reads["benefits"]["fields"]
    assert (benefits["name"], benefits["date_of_birth"], benefits["gender"]) == (
        NAME, "1990-04-12", "X",
    )  # fmt: skip
    assert reads["library"]["fields"]["name"] == NAME
    assert reads["age-check"]["fields"]["age_over_21"] is True  # born 1990
    # Each read is a tap of its own (the card powered up afresh): within issue 11's 20 APDUs.
    assert all(read["apdus"] <= 20 for read in [*reads.values(), facts["museum_again"]])


def test_pseudonyms_differ_by_service_and_repeat_for_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    facts = _demo_json(capsys)
    pseudonym = {read["role"]: read["fields"].get("pseudonym") for read in facts["reads"]}
    assert len({pseudonym["library"], pseudonym["museum"], pseudonym["transit"]}) == 3
    assert all(re.fullmatch("[0-9a-f]{64}", pseudonym[role]) for role in ("library", "museum"))
    again = facts["museum_again"]
    assert again["terminal"] != facts["terminals"]["museum"]  # another museum terminal
    assert again["fields"]["pseudonym"] == pseudonym["museum"]
    assert facts["library_museum_pseudonyms_differ"] is True
    assert facts["museum_pseudonym_stable"] is True


def test_a_skimmer_and_a_forged_terminal_get_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    facts = _demo_json(capsys)
    assert re.fullmatch("[0-9]{6}", facts["can"])
    skimmer = facts["skimmer"]
    assert skimmer["wrong_can"] == "WrongCan"
    assert skimmer["wrong_can_status"] == skimmer["malformed_status"] == "6300"
    assert (skimmer["same_atr"], skimmer["same_card_access"]) == (True, True)
    assert skimmer["personal_bytes"] is False and skimmer["answer_bytes"] > 0
    forged = facts["forged_terminal"]
    assert (forged["refused"], forged["error"]) == (True, "TerminalRefused")
    assert NAME not in json.dumps({"skimmer": skimmer, "forged": forged})


def test_the_text_tells_the_same_story(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "demo")
    assert status == 0
    assert list(tmp_path.iterdir()) == []  # nothing written
    section = out.split("\n\n", 1)[0]
    assert section.startswith("== generation 2, the chip card the library makes by default")
    assert re.search(r"CAN [0-9]{6}, printed on the card face", section)
    assert "a wrong CAN -> WrongCan, status 6300, as for a malformed\n  command (6300)" in section
    assert "no personal byte" in section
    lines = {line.split()[0]: line for line in section.splitlines() if line.startswith("  ")}
    assert re.fullmatch(r"  museum +pseudonym [0-9a-f]{16}\.\.\., valid yes  \(\d+ APDUs\)",
                        lines["museum"])  # fmt: skip
    assert re.fullmatch(r"  age-check +at least 21: yes, valid yes  \(\d+ APDUs\)",
                        lines["age-check"])  # fmt: skip
    assert NAME in lines["library"] and "1990" not in lines["library"]
    assert "pseudonyms differ" in section
    assert "a second museum terminal reads the same museum pseudonym" in section
    assert "refused, TerminalRefused" in section
    assert "== version 1 contact card, for cities not yet on generation 2" in out


def test_the_answers_are_the_card_s_not_the_demo_s() -> None:
    """A holder under 21 whose card expired yesterday: the same terminals say so."""
    today = date(2027, 1, 15)
    young = Credential(
        name="Li Wei",
        date_of_birth=today.replace(year=today.year - AGE) + timedelta(days=1),
        issued=today - timedelta(days=400),
        expires=today - timedelta(days=1),
        status_index=1,
    )
    facts = generation_2(today, young)
    fields = {read["role"]: read["fields"] for read in facts["reads"]}
    assert fields["age-check"][f"age_over_{AGE}"] is False
    assert fields["museum"]["valid"] is False and fields["transit"]["valid"] is False
    assert fields["library"]["valid"] is False  # from the expiry it reads
    assert "gender" in fields["benefits"] and fields["benefits"]["gender"] is None
