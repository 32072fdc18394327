"""The library hand-off: a Koha patron record, only with consent, only what the policy shows."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from cityid_card.desk import get_policy
from cityid_card.desk.ils import (
    KOHA_CSV_COLUMNS,
    ConsentRequired,
    IlsError,
    KohaPatron,
    koha_csv,
    koha_patron,
)
from cityid_card.verifier import VerifiedCredential
from tests.conftest import sample_credential

from .conftest import HOLDER, Issuer, LiveServer, desk_config

TODAY = date(2027, 6, 1)


def _shown(policy: str = "library", **changes: object) -> dict[str, object]:
    result = VerifiedCredential(sample_credential(**changes), "CHI-2026-1", "ES256")
    return get_policy(policy).show(result, TODAY)


def test_a_koha_patron_from_the_library_policy() -> None:
    patron = koha_patron(_shown(), branchcode="CPL", categorycode="PT", consent=True)
    assert patron == KohaPatron(HOLDER, "CPL", "PT", None)
    rows = list(csv.DictReader(io.StringIO(koha_csv([patron]))))
    assert rows == [
        {
            "surname": HOLDER,
            "firstname": "",
            "branchcode": "CPL",
            "categorycode": "PT",
            "patron_attributes": "",
        }
    ]
    assert tuple(rows[0]) == KOHA_CSV_COLUMNS
    assert patron.rest_body() == {"surname": HOLDER, "library_id": "CPL", "category_id": "PT"}


def test_the_generation_2_pseudonym_becomes_an_extended_attribute() -> None:
    shown = {"valid": True, "name": HOLDER, "pseudonym": "a1b2"}
    patron = koha_patron(shown, branchcode="CPL", categorycode="PT", consent=True)
    assert patron.csv_row()["patron_attributes"] == "CITYID:a1b2"
    assert patron.rest_body()["extended_attributes"] == [{"type": "CITYID", "value": "a1b2"}]


def test_only_the_name_and_pseudonym_are_handed_over() -> None:
    shown = _shown("benefits", gender="X")  # shows date of birth and gender too
    text = koha_csv([koha_patron(shown, branchcode="CPL", categorycode="PT", consent=True)])
    assert "1990-04-12" not in text and "2031-11-20" not in text and ",X," not in text


def test_no_consent_no_record() -> None:
    for consent in (False, None, "yes", 1):
        with pytest.raises(ConsentRequired):
            koha_patron(_shown(), branchcode="CPL", categorycode="PT", consent=consent)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shown", "branch", "category"),
    [
        ({"valid": False, "error": "Expired"}, "CPL", "PT"),
        ({"valid": True}, "CPL", "PT"),  # transit policy: no name
        ({"valid": True, "name": HOLDER}, "", "PT"),
        ({"valid": True, "name": HOLDER}, "CPL", "P T"),
        ({"valid": True, "name": HOLDER}, "CPL;DROP", "PT"),
        ({"valid": True, "name": HOLDER}, "ABCDEFGHIJK", "PT"),
    ],
)
def test_refused_records(shown: dict[str, object], branch: str, category: str) -> None:
    with pytest.raises(IlsError) as info:
        koha_patron(shown, branchcode=branch, categorycode=category, consent=True)
    assert HOLDER not in str(info.value)


def test_a_name_that_looks_like_a_formula_is_defused() -> None:
    patron = koha_patron(
        {"valid": True, "name": "=HYPERLINK(1)"}, branchcode="CPL", categorycode="PT", consent=True
    )
    assert patron.csv_row()["surname"] == "'=HYPERLINK(1)"
    assert patron.rest_body()["surname"] == "=HYPERLINK(1)"  # JSON is not a spreadsheet


def test_the_service_hands_over_with_consent(
    issuer: Issuer, valid_qr: str, expired_qr: str
) -> None:
    live = LiveServer(desk_config(issuer, koha=("CPL", "PT"))).start()
    headers = {"Content-Type": "application/json"}

    def post(document: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
        return live.request("POST", "/api/ils/koha", json.dumps(document).encode(), headers)

    try:
        status, response_headers, body = post({"qr": valid_qr, "consent": True})
        assert status == 200 and response_headers["content-type"].startswith("text/csv")
        assert "attachment" in response_headers["content-disposition"]
        (row,) = csv.DictReader(io.StringIO(body.decode()))
        assert row["surname"] == HOLDER
        status, _, body = post({"qr": valid_qr, "consent": True, "format": "json"})
        assert status == 200 and json.loads(body)["patron"]["library_id"] == "CPL"
        assert post({"qr": valid_qr})[0] == 403
        assert post({"qr": valid_qr, "consent": "yes"})[0] == 403
        assert post({"qr": valid_qr, "consent": True, "format": "xml"})[0] == 400
        assert post({"qr": valid_qr, "consent": True, "name": "x"})[0] == 400
        status, _, body = post({"qr": expired_qr, "consent": True})
        assert status == 422 and json.loads(body) == {"valid": False, "error": "Expired"}
        health = json.loads(live.request("GET", "/api/health")[2])
        assert health["ils"] is True
    finally:
        live.stop()


def test_the_hand_off_is_off_unless_configured(server: LiveServer, valid_qr: str) -> None:
    body = json.dumps({"qr": valid_qr, "consent": True}).encode()
    status, _, _ = server.request(
        "POST", "/api/ils/koha", body, {"Content-Type": "application/json"}
    )
    assert status == 404


def test_a_policy_without_names_cannot_hand_over(issuer: Issuer, valid_qr: str) -> None:
    live = LiveServer(desk_config(issuer, "transit", koha=("CPL", "PT"))).start()
    try:
        body = json.dumps({"qr": valid_qr, "consent": True}).encode()
        status, _, answer = live.request(
            "POST", "/api/ils/koha", body, {"Content-Type": "application/json"}
        )
    finally:
        live.stop()
    assert status == 409 and HOLDER.encode() not in answer
