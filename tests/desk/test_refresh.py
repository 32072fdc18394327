"""Status lists that refresh themselves: a folder, an HTTPS URL, never a rollback."""

from __future__ import annotations

import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cityid_card import IssuerKey, sign_status_list
from cityid_card.desk.refresh import (
    FolderSource,
    HttpsSource,
    StatusListRefresher,
    StatusSourceError,
    list_order,
    source_for,
)
from cityid_card.errors import Revoked
from cityid_card.status import CredentialStatus, StatusListToken, StatusRegistry, StatusValue
from cityid_card.verifier import Verifier

from .conftest import DESK_NOW, Issuer, LiveServer, desk_config

T0 = datetime(2027, 5, 1, tzinfo=UTC)
T1 = datetime(2027, 5, 10, tzinfo=UTC)
T2 = datetime(2027, 5, 20, tzinfo=UTC)
INDEX = 4711  # the sample card's status index


def _token(issuer: Issuer, at: datetime, *revoked: int) -> bytes:
    registry = StatusRegistry.for_key(issuer.key, 8192)
    for index in revoked:
        registry.set(index, StatusValue.INVALID)
    return sign_status_list(issuer.key, registry, issued_at=at)


def _refresher(issuer: Issuer, source: FolderSource | HttpsSource) -> StatusListRefresher:
    return StatusListRefresher(Verifier(issuer.trust, cache_size=0), source, clock=lambda: DESK_NOW)


def test_a_folder_is_read_and_newer_lists_replace_older(issuer: Issuer, tmp_path: Path) -> None:
    card = issuer.card()
    refresher = _refresher(issuer, FolderSource(tmp_path))
    assert refresher.refresh().updated == ()
    assert refresher.verifier.verify(card, DESK_NOW).status is CredentialStatus.UNKNOWN
    (tmp_path / "chi.cwt").write_bytes(_token(issuer, T1))
    assert refresher.refresh().updated == ("CHI-2026-1",)
    assert refresher.verifier.verify(card, DESK_NOW).status is CredentialStatus.VALID
    (tmp_path / "chi.cwt").write_bytes(_token(issuer, T2, INDEX))
    assert refresher.refresh().updated == ("CHI-2026-1",)
    with pytest.raises(Revoked):
        refresher.verifier.verify(card, DESK_NOW)
    assert refresher.report()["age_days"] == (DESK_NOW - T2).days == 12


def test_never_a_rollback(issuer: Issuer, tmp_path: Path) -> None:
    card = issuer.card()
    refresher = _refresher(issuer, FolderSource(tmp_path))
    (tmp_path / "chi.cwt").write_bytes(_token(issuer, T2, INDEX))
    refresher.refresh()
    # An older list (the card not yet revoked), as an attacker or a stale mirror serves it.
    (tmp_path / "chi.cwt").write_bytes(_token(issuer, T1))
    report = refresher.refresh()
    assert report.refused_older == ("CHI-2026-1",) and report.updated == ()
    with pytest.raises(Revoked):
        refresher.verifier.verify(card, DESK_NOW)
    # Of the same age but other content: refused too; the first one seen stays.
    (tmp_path / "chi.cwt").write_bytes(_token(issuer, T2))
    assert refresher.refresh().refused_older == ("CHI-2026-1",)
    # The file disappears: the last good list stays in use.
    (tmp_path / "chi.cwt").unlink()
    refresher.refresh()
    with pytest.raises(Revoked):
        refresher.verifier.verify(card, DESK_NOW)
    assert [token.issued_at for token in refresher.current()] == [T2]


def test_the_newest_of_several_files_wins(issuer: Issuer, tmp_path: Path) -> None:
    (tmp_path / "a.cwt").write_bytes(_token(issuer, T2, INDEX))
    (tmp_path / "b.cwt").write_bytes(_token(issuer, T0))
    (tmp_path / "notes.txt").write_text("not a list")
    refresher = _refresher(issuer, FolderSource(tmp_path))
    refresher.refresh()
    assert [token.issued_at for token in refresher.current()] == [T2]


def test_a_list_with_a_bad_signature_is_refused(issuer: Issuer, tmp_path: Path) -> None:
    stranger = IssuerKey.generate("ES256", kid="CHI-2026-1")  # same label, other key
    registry = StatusRegistry.for_key(stranger, 8192)
    (tmp_path / "forged.cwt").write_bytes(sign_status_list(stranger, registry, issued_at=T2))
    (tmp_path / "junk.cwt").write_bytes(b"\xa0")
    refresher = _refresher(issuer, FolderSource(tmp_path))
    report = refresher.refresh()
    assert report.errors == ("StatusListError", "StatusListError") and report.updated == ()
    assert refresher.current() == []


def test_a_missing_folder_is_reported_and_the_lists_kept(issuer: Issuer, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "chi.cwt").write_bytes(_token(issuer, T1))
    refresher = _refresher(issuer, FolderSource(folder))
    refresher.refresh()
    (folder / "chi.cwt").unlink()
    folder.rmdir()
    assert refresher.refresh().errors == ("StatusSourceError",)
    assert len(refresher.current()) == 1
    assert refresher.report()["last_errors"] == ["StatusSourceError"]


def test_the_schedule_with_an_injected_sleep(issuer: Issuer, tmp_path: Path) -> None:
    card = issuer.card()
    stop = threading.Event()
    waits: list[float] = []
    lists = [_token(issuer, T1), _token(issuer, T2, INDEX)]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if lists:
            (tmp_path / "chi.cwt").write_bytes(lists.pop(0))  # the city publishes
        else:
            stop.set()

    refresher = StatusListRefresher(
        Verifier(issuer.trust, cache_size=0),
        FolderSource(tmp_path),
        interval=30,
        clock=lambda: DESK_NOW,
        sleep=sleep,
    )
    refresher.run(stop)
    assert waits == [30, 30, 30]
    with pytest.raises(Revoked):
        refresher.verifier.verify(card, DESK_NOW)


def test_list_order_is_the_issue_time(issuer: Issuer) -> None:
    older = StatusListToken.from_bytes(_token(issuer, T1), issuer.trust)
    newer = StatusListToken.from_bytes(_token(issuer, T2), issuer.trust)
    assert list_order(older) < list_order(newer)


def test_sources_by_location(tmp_path: Path) -> None:
    assert isinstance(source_for(str(tmp_path)), FolderSource)
    assert isinstance(source_for("https://city.example/status.cwt"), HttpsSource)
    for url in ("http://city.example/status.cwt", "https://user:pw@city.example/s.cwt"):
        with pytest.raises(StatusSourceError) as info:
            source_for(url)
        assert "pw" not in str(info.value)


# An HTTPS server on the loopback with a throwaway certificate.


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "status lists test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Lists(http.server.BaseHTTPRequestHandler):
    body: bytes = b""
    status: int = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/statuslist+cwt")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext, type[_Lists]]]:
    cert, key = _certificate(tmp_path)
    handler = type("Handler", (_Lists,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ssl.create_default_context(cafile=str(cert))
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/status.cwt", client, handler
    finally:
        server.shutdown()
        server.server_close()


def test_an_https_url(
    issuer: Issuer, https_server: tuple[str, ssl.SSLContext, type[_Lists]]
) -> None:
    url, client, handler = https_server
    card = issuer.card()
    handler.body = _token(issuer, T1)
    refresher = _refresher(issuer, HttpsSource(url, context=client))
    assert refresher.refresh().updated == ("CHI-2026-1",)
    handler.body = _token(issuer, T2, INDEX)
    refresher.refresh()
    with pytest.raises(Revoked):
        refresher.verifier.verify(card, DESK_NOW)
    handler.body = _token(issuer, T0)  # a rollback served over HTTPS
    assert refresher.refresh().refused_older == ("CHI-2026-1",)
    handler.status = 404
    assert refresher.refresh().errors == ("StatusSourceError",)
    assert refresher.report()["source"] == url
    with pytest.raises(Revoked):
        refresher.verifier.verify(card, DESK_NOW)


def test_https_checks_the_certificate(
    issuer: Issuer, https_server: tuple[str, ssl.SSLContext, type[_Lists]]
) -> None:
    url, _, handler = https_server
    handler.body = _token(issuer, T1)
    # The system's CAs do not know the throwaway certificate: nothing is taken.
    with pytest.raises(StatusSourceError) as info:
        HttpsSource(url).fetch()
    assert "SSLCertVerificationError" in str(info.value)


def test_health_shows_the_refresher_report(issuer: Issuer, tmp_path: Path) -> None:
    (tmp_path / "chi.cwt").write_bytes(_token(issuer, T2))
    refresher = _refresher(issuer, FolderSource(tmp_path))
    refresher.refresh()
    stopped = threading.Event()

    def task(stop: threading.Event) -> None:
        stop.wait(30)
        stopped.set()

    config = desk_config(issuer, status_info=refresher.report, tasks=(task,))
    live = LiveServer(config).start()
    try:
        _, _, body = live.request("GET", "/api/health")
    finally:
        live.stop()
    lists = json.loads(body)["status_lists"]
    assert lists["age_days"] == 12 and lists["source"] == f"folder {tmp_path}"
    assert lists["lists"][0]["issued_at"] == T2.isoformat()
    assert stopped.wait(5)  # the task ran while the service ran, and stopped with it


def test_serve_builds_a_refreshing_verifier(issuer: Issuer, tmp_path: Path) -> None:
    from cityid_card.cli.serve import build_verifier

    trust = tmp_path / "trust.json"
    issuer.trust.save(trust)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "chi.cwt").write_bytes(_token(issuer, T2, INDEX))
    settings = {"trust": str(trust), "status_lists": str(lists), "require_status": True}
    verifier, refresher = build_verifier(settings)
    assert refresher is not None and len(refresher.current()) == 1
    with pytest.raises(Revoked):
        verifier.verify(issuer.card(), DESK_NOW)
    assert build_verifier({**settings, "status_lists": None})[1] is None
