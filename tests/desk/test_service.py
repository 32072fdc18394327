"""The verification service under the real uvicorn server on a loopback port."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityid_card import qr, sign_status_list
from cityid_card.desk.service import MAX_BODY, EventHub, allowed_hosts
from cityid_card.status import StatusListToken, StatusRegistry

from .conftest import DESK_NOW, HOLDER, Issuer, LiveServer, desk_config
from .helpers import EventStream, ServeCommand, post_verify

REPO = Path(__file__).resolve().parents[2]


def test_verify_a_qr_code_shows_what_the_policy_allows(server: LiveServer, valid_qr: str) -> None:
    status, body = server.verify({"qr": valid_qr})
    assert status == 200
    assert body == {"valid": True, "name": HOLDER, "expires": "2031-11-20"}


def test_verify_credential_bytes_in_base64(server: LiveServer, issuer: Issuer) -> None:
    blob = issuer.card()
    status, body = server.verify({"credential": base64.b64encode(blob).decode()})
    assert (status, body["valid"], body["name"]) == (200, True, HOLDER)


def test_a_rejection_names_the_error_and_nothing_personal(
    server: LiveServer, expired_qr: str, issuer: Issuer
) -> None:
    assert server.verify({"qr": expired_qr}) == (200, {"valid": False, "error": "Expired"})
    assert server.verify({"qr": "CID1:not base45!"}) == (
        200,
        {"valid": False, "error": "MalformedCredential"},
    )
    tampered = bytearray(issuer.card())
    tampered[-1] ^= 1
    assert server.verify({"credential": base64.b64encode(tampered).decode()}) == (
        200,
        {"valid": False, "error": "BadSignature"},
    )


@pytest.mark.parametrize(
    ("policy", "keys"),
    [
        ("transit", {"valid"}),
        ("museum", {"valid"}),
        ("age-check:18", {"valid", "age_over_18"}),
        ("benefits", {"valid", "name", "date_of_birth", "gender", "expires"}),
    ],
)
def test_the_service_applies_its_policy(
    issuer: Issuer, valid_qr: str, policy: str, keys: set[str]
) -> None:
    live = LiveServer(desk_config(issuer, policy)).start()
    try:
        status, body = live.verify({"qr": valid_qr})
    finally:
        live.stop()
    assert status == 200 and set(body) == keys
    assert "status_index" not in json.dumps(body) and "4711" not in json.dumps(body)


def test_health_reports_the_status_lists_age(issuer: Issuer) -> None:
    registry = StatusRegistry.for_key(issuer.key, 1024)
    token_bytes = sign_status_list(
        issuer.key, registry, issued_at=datetime(2027, 5, 20, tzinfo=UTC)
    )
    token = StatusListToken.from_bytes(token_bytes, issuer.trust)
    live = LiveServer(desk_config(issuer, status_lists=lambda: [token])).start()
    try:
        status, _, body = live.request("GET", "/api/health")
    finally:
        live.stop()
    report = json.loads(body)
    assert status == 200 and report["ok"] is True and report["policy"] == "library"
    assert report["status_lists"]["age_days"] == (DESK_NOW - token.issued_at).days == 12
    assert report["status_lists"]["lists"][0]["kid"] == "CHI-2026-1"


def test_health_without_lists(server: LiveServer) -> None:
    status, headers, body = server.request("GET", "/api/health")
    assert status == 200 and json.loads(body)["status_lists"] == {"age_days": None, "lists": []}
    assert headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b'{"qr": "CID1:"', {"Content-Type": "application/json"}, 400),  # bad JSON
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400),  # not UTF-8
        (b"[" * 100_000, {"Content-Type": "application/json"}, 413),  # huge
        (b"[" * 5000 + b"]" * 5000, {"Content-Type": "application/json"}, 413),
        (b"[" * 4000 + b"]" * 4000, {"Content-Type": "application/json"}, 400),  # deep nesting
        (b'{"qr": "CID1:"}', {"Content-Type": "text/plain"}, 415),
        (b"qr=CID1:", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        (b'{"qr": "CID1:"}', {}, 415),
        (b'{"qr": 5}', {"Content-Type": "application/json"}, 400),
        (b'{"qr": "CID1:", "x": 1}', {"Content-Type": "application/json"}, 400),
        (b'{"name": "x"}', {"Content-Type": "application/json"}, 400),
        (b"null", {"Content-Type": "application/json"}, 400),
        (b'{"credential": "***"}', {"Content-Type": "application/json"}, 400),
        (b'{"credential": "QQ"}', {"Content-Type": "application/json"}, 400),
    ],
)
def test_hostile_requests_get_a_clear_4xx(
    server: LiveServer, body: bytes, headers: dict[str, str], status: int
) -> None:
    got, _, answer = server.request("POST", "/api/verify", body, headers)
    assert got == status
    assert set(json.loads(answer)) == {"error"}


def test_a_lying_content_length_is_refused(server: LiveServer) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)}
    status, _, _ = server.request("POST", "/api/verify", b"{}", headers)
    assert status == 413


def test_wrong_methods_and_paths(server: LiveServer) -> None:
    assert server.request("GET", "/api/verify")[0] == 405
    assert server.request("DELETE", "/api/health")[0] == 405
    assert server.request("OPTIONS", "/api/verify")[0] == 405  # no CORS preflight answered
    assert server.request("GET", "/nothing-here")[0] == 404
    assert server.request("GET", "/static/../service.py")[0] == 404


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",  # DNS rebinding: evil.example resolved to 127.0.0.1
        "evil.example:8600",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "",
    ],
)
def test_dns_rebinding_host_headers_are_refused(
    server: LiveServer, valid_qr: str, host: str
) -> None:
    body = json.dumps({"qr": valid_qr}).encode()
    headers = {"Host": host, "Content-Type": "application/json"}
    status, _, answer = server.request("POST", "/api/verify", body, headers)
    assert status == 400 and HOLDER.encode() not in answer
    assert server.request("GET", "/", headers={"Host": host})[0] == 400


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_host_names_are_served(server: LiveServer, host: str) -> None:
    assert server.request("GET", "/api/health", headers={"Host": f"{host}:{server.port}"})[0] == 200


def test_cross_origin_requests_are_refused(server: LiveServer, valid_qr: str) -> None:
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},  # another port is another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        status, body = server.verify({"qr": valid_qr}, **headers)
        assert status == 403 and body == {"error": "cross-origin requests are refused"}
        status, response_headers, _ = server.request("GET", "/api/events", headers=headers)
        assert status == 403
        assert not any(name.startswith("access-control-") for name in response_headers)
    same = {"Origin": f"http://{server.host}", "Sec-Fetch-Site": "same-origin"}
    assert server.verify({"qr": valid_qr}, **same)[0] == 200


def test_security_headers(server: LiveServer) -> None:
    status, headers, _ = server.request("GET", "/")
    assert status == 200
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert "server" not in headers


def test_the_listen_address_names_are_allowed() -> None:
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "::1", "[::1]"]
    assert allowed_hosts("desk-7.library.lan")[-1] == "desk-7.library.lan"
    assert "0.0.0.0" not in allowed_hosts("0.0.0.0")


def test_nothing_personal_reaches_a_log(
    issuer: Issuer, valid_qr: str, expired_qr: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # uvicorn's own logs too: its logging set-up left to the test, so they propagate here.
    live = LiveServer(desk_config(issuer), log_config=None, log_level="debug")
    live.start()
    try:
        assert live.verify({"qr": valid_qr})[0] == 200
        assert live.verify({"qr": expired_qr})[0] == 200
        blob = base64.b64encode(issuer.card()).decode()
        assert live.verify({"credential": blob})[0] == 200
        live.request("POST", "/api/verify?qr=" + urllib.parse.quote(valid_qr), b"{")
        live.request("GET", "/" + urllib.parse.quote(valid_qr))  # a scanner that opens URLs
        live.request("GET", "/" + urllib.parse.quote(HOLDER))
        live.request(
            "POST", "/api/verify", b"{" + HOLDER.encode(), {"Content-Type": "application/json"}
        )
    finally:
        live.stop()
    text = caplog.text
    assert "POST /api/verify 200" in text  # our request log ran
    assert "GET (another path) 404" in text
    assert "verify: valid" in text and "verify: rejected (Expired)" in text
    for secret in (HOLDER, "Rivera", "1990-04-12", valid_qr[5:25], blob[:20], "4711"):
        assert secret not in text


def test_the_event_stream_delivers_published_events(server: LiveServer) -> None:
    hub: EventHub = server.config.hub
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", "/api/events")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        assert response.readline().startswith(b": ")
        deadline = time.monotonic() + 5
        while hub.subscribers == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        hub.publish({"event": "arrival", "valid": False, "error": "Expired"})
        lines: list[bytes] = []
        while len(lines) < 2:
            line = response.readline()
            if line.strip():
                lines.append(line)
    finally:
        connection.close()
    assert lines[0] == b"event: arrival\n"
    assert json.loads(lines[1].removeprefix(b"data: ")) == {
        "event": "arrival",
        "valid": False,
        "error": "Expired",
    }


def test_an_event_source_runs_while_the_service_runs(issuer: Issuer) -> None:
    stopped = threading.Event()

    def source(stop: threading.Event) -> list[dict[str, object]]:
        stop.wait(30)
        stopped.set()
        return []

    live = LiveServer(desk_config(issuer, events=source)).start()
    status, _, body = live.request("GET", "/api/health")
    live.stop()
    assert status == 200 and json.loads(body)["reader"] is True
    assert stopped.wait(5)


def test_the_serve_command(issuer: Issuer, tmp_path: Path, valid_qr: str) -> None:
    trust = tmp_path / "trust.json"
    issuer.trust.save(trust)
    with ServeCommand("--trust", str(trust)) as serve:
        status, body = serve.when_up(lambda port: post_verify(port, {"qr": valid_qr}))
        # The sample card has expired by the machine's own date only after 2031.
        assert status == 200 and set(body) <= {"valid", "name", "expires", "error"}
    assert b"http://127.0.0.1:%d/" % serve.port in serve.err
    assert HOLDER.encode() not in serve.out + serve.err
    assert qr.decode(valid_qr)  # the text itself was sent, never logged
    assert valid_qr[5:30].encode() not in serve.out + serve.err


def test_serve_refuses_a_wrong_policy(issuer: Issuer, tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    issuer.trust.save(trust)
    result = subprocess.run(
        [sys.executable, "-m", "cityid_card", "serve", "--trust", str(trust), "--policy", "x"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 2 and b"PolicyError" in result.stderr


def test_serve_usage_errors(
    issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import run_cli

    trust = tmp_path / "trust.json"
    issuer.trust.save(trust)
    for extra, message in (
        (["--port", "70000"], "a port is 1 to 65535"),
        (["--port", "0"], "expected a whole number of 1 or more"),
        (["--workers", "0"], "expected a whole number of 1 or more"),
        (["--koha", "CPL"], "expected 2 arguments"),
    ):
        with pytest.raises(SystemExit) as info:
            run_cli(capsys, "serve", "--trust", str(trust), *extra)
        assert info.value.code == 2 and message in capsys.readouterr().err
    status, _, err = run_cli(
        capsys, "serve", "--trust", str(trust), "--workers", "2", "--reader", "sim:card"
    )
    assert status == 2 and "--reader needs --workers 1" in err
    status, _, err = run_cli(capsys, "serve", "--trust", str(trust), "--koha", "C;PL", "PT")
    assert status == 2 and "(IlsError)" in err


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_DOCUMENTS = (
    _JSON.map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries({"qr": st.text(max_size=200)}).map(lambda d: json.dumps(d).encode())
    | st.fixed_dictionaries({"credential": st.text(max_size=200)}).map(
        lambda d: json.dumps(d).encode()
    )
    | st.binary(max_size=300)
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_DOCUMENTS,
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "text/plain", ""]
    ),
)
def test_no_request_body_gets_a_500(server: LiveServer, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, answer = server.request("POST", "/api/verify", body, headers)
    assert status in (200, 400, 413, 415)
    document = json.loads(answer)
    if status == 200:
        assert document["valid"] is False and set(document) == {"valid", "error"}
    else:
        assert set(document) == {"error"}


def _first_event(server: LiveServer, seconds: float = 3.0) -> bytes | None:
    """The first data line the event stream sends within ``seconds``, or None."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=seconds)
    try:
        connection.request("GET", "/api/events")
        response = connection.getresponse()
        response.readline()  # the opening comment
        while True:
            line = response.readline()
            if line.startswith(b"data:"):
                return line
    except TimeoutError:
        return None
    finally:
        connection.close()


def test_a_page_opened_after_the_tap_sees_the_card_on_the_reader(server: LiveServer) -> None:
    hub = server.config.hub
    hub.publish({"event": "arrival", "valid": True, "name": HOLDER})  # nobody listening yet
    first = _first_event(server)
    assert first is not None and json.loads(first.removeprefix(b"data: "))["name"] == HOLDER
    hub.publish({"event": "removal"})  # the card is gone: nothing is kept
    assert _first_event(server, 0.5) is None


def test_the_serve_command_streams_its_reader(issuer: Issuer, tmp_path: Path) -> None:
    from cityid_card.drivers import SimConnection
    from cityid_card.iso7816 import personalize
    from cityid_card.sim_io import card_in_file
    from tests.conftest import sample_credential

    state, trust = tmp_path / "card.json", tmp_path / "trust.json"
    issuer.trust.save(trust)
    application = card_in_file(state)
    personalize(SimConnection(application), issuer.key, sample_credential(), today=DESK_NOW.date())
    reader = f"sim:card:{state}"
    with ServeCommand("--trust", str(trust), "--reader", reader, "--policy", "transit") as serve:
        stream = serve.when_up(EventStream)
        event = stream.next()
        stream.close()
    assert event["event"] == "arrival" and event["valid"] is True
    assert event["authenticity"] == "chip_authenticated"
    assert set(event) == {"event", "reader", "valid", "authenticity", "status_list_age_days"}
    assert HOLDER.encode() not in serve.out + serve.err
