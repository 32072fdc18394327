"""The local verification service behind ``cityid-card serve``: a JSON API and the staff page.

Built on Starlette and served by uvicorn (the ``desk`` extra): Starlette is a small,
typed, well-kept ASGI toolkit with streaming responses (server-sent events), static
files from a package and a trusted-host middleware; uvicorn is its reference server.

Routes:

- ``POST /api/verify`` with ``{"qr": "CID1:..."}`` or ``{"credential": "<base64>"}``:
  ``{"valid": true, ...the fields the display policy allows}``, or
  ``{"valid": false, "error": "<error type>"}`` for a card that does not verify.
  With a generation-2 chip card's face code ``{"qr": "CIDC1:..."}`` (or ``{"can":
  "123456"}``) it arms the reader loop with the card's CAN, and with the face code of a
  card with a sealed NFC tag ``{"qr": "CIDS1:..."}`` with the tag's key: ``202
  {"reading": "tap"}``, and the card's result comes as an ``arrival`` on the event
  stream. A desk without a reader verifies the credential a ``CIDS1:`` code holds, as
  it does a ``CID1:`` code.
- ``GET /api/health``: the engine, the policy and the status lists' age.
- ``POST /api/ils/koha`` with the card (or ``"reader": true``: the card on the reader
  now), ``"consent": true`` and ``"format"`` (``csv`` or ``json``): the patron record
  for Koha (see :mod:`.ils`), when serve was given a branch.
- ``GET /api/events``: the reader events (server-sent events), already filtered by the
  display policy.
- ``GET /``: the staff page; ``/static/...`` its assets (no CDN: works offline).

What it refuses: a Host header other than the address it serves on (DNS rebinding),
an Origin or ``Sec-Fetch-Site`` of another site (cross-origin requests; it sends no
CORS headers), a body over :data:`MAX_BODY` bytes (413), a body that is not JSON
(415 for another content type, 400 for bad or deeply nested JSON). Nothing of a
request body reaches a log: the service logs one line per request (method, path
without its query, status) and per verification the outcome only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any, Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityid_card import qr
from cityid_card.errors import CredentialError
from cityid_card.status import StatusListToken
from cityid_card.verifier import Verifier

from .faces import Can, FaceBox, NotAFaceCode, parse_can, parse_face
from .ils import IlsError, koha_csv, koha_patron
from .policy import Policy

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LOGGER",
    "MAX_BODY",
    "UVICORN_OPTIONS",
    "EventHub",
    "EventSource",
    "ServiceConfig",
    "allowed_hosts",
    "create_app",
    "status_report",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8600
#: The largest request body taken: a QR code text is at most 4296 characters.
MAX_BODY: Final = 8192
#: Seconds between keep-alive comments on the event stream.
KEEPALIVE: Final = 15.0
#: Events queued for one slow event-stream client before the oldest are dropped.
_QUEUE_SIZE = 64
LOGGER: Final = logging.getLogger("cityid_card.desk")
#: How uvicorn runs the service: no access log of its own (it would log query strings),
#: no trust in X-Forwarded-For, no Server header; open event streams end 2 s after a stop.
UVICORN_OPTIONS: Final = {
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "timeout_graceful_shutdown": 2,
}
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
_STATIC = resources.files("cityid_card.desk") / "static"

#: A source of reader events for the live stream: called with a stop flag in a thread of
#: its own, it yields JSON-ready events until the flag is set (see cityid_card.desk.loop).
EventSource = Callable[[threading.Event], Iterable[dict[str, Any]]]


def _local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class ServiceConfig:
    """What the service verifies with and shows.

    ``status_lists`` returns the lists in use now, or ``status_info`` (a refresher's
    report) describes them; ``clock`` gives the current time, whose local calendar
    date cards are judged by; ``tasks`` run in threads of their own while the service
    runs (a status list refresher), each until the stop flag it is given is set.
    """

    verifier: Verifier
    policy: Policy
    status_lists: Callable[[], Sequence[StatusListToken]] = tuple
    status_info: Callable[[datetime], dict[str, Any]] | None = None
    events: EventSource | None = None
    tasks: Sequence[Callable[[threading.Event], None]] = ()
    #: Koha's branch code and patron category for the hand-off; None: no hand-off.
    koha: tuple[str, str] | None = None
    hosts: Sequence[str] = _LOOPBACK_NAMES
    clock: Callable[[], datetime] = _local_now
    hub: EventHub = field(default_factory=lambda: EventHub())
    #: Where ``POST /api/verify`` puts what a card face opens its card with, for the
    #: reader loop (``events`` reads sealed tags, and with a terminal generation-2
    #: cards, with it); None: this desk has no reader to give it to.
    faces: FaceBox | None = None
    #: The generation-2 terminal's role; None without a terminal (no chip card is read).
    terminal_role: str | None = None


class EventHub:
    """Fans reader events out to every event-stream client; publish from any thread.

    The arrival of the card that is on the reader now is kept until its removal, and a
    client that connects meanwhile gets it first: a page opened after the tap shows
    the card on the reader. Nothing else is kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._on_reader: dict[str, Any] | None = None

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            kind = event.get("event")
            if kind == "arrival":
                self._on_reader = event
            elif kind == "removal":
                self._on_reader = None
            subscribers = list(self._queues)
        for loop, queue in subscribers:
            with contextlib.suppress(RuntimeError):  # its loop closed: the client is gone
                loop.call_soon_threadsafe(_offer, queue, event)

    @property
    def on_reader(self) -> dict[str, Any] | None:
        """The arrival of the card on the reader now (as published), or None."""
        with self._lock:
            return self._on_reader

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._queues)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of the card on the reader now, if any, and the events published later."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_SIZE)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            if self._on_reader is not None:
                queue.put_nowait(self._on_reader)
            self._queues.add(entry)
        try:
            yield queue
        finally:
            with self._lock:
                self._queues.discard(entry)


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()  # a client that does not read loses the oldest, not the newest
    queue.put_nowait(event)


def status_report(lists: Sequence[StatusListToken], now: datetime) -> dict[str, Any]:
    """The status lists' age: per list its key, issue time and age in whole days.

    ``age_days`` is the age of the oldest list in use (None without lists): what the
    page shows as "status list N days old".
    """
    rows = [
        {
            "kid": token.kid,
            "issued_at": token.issued_at.isoformat(),
            "age_days": max(0, (now - token.issued_at).days),
            "current": token.current(now),
        }
        for token in sorted(lists, key=lambda t: t.kid)
    ]
    ages = [max(0, (now - token.issued_at).days) for token in lists]
    return {
        "age_days": max(ages, default=None),
        "lists": rows,
    }


def allowed_hosts(host: str) -> list[str]:
    """The Host header names the service answers to when it listens on ``host``."""
    names = list(_LOOPBACK_NAMES)
    if host not in names and host not in ("0.0.0.0", "::"):  # noqa: S104  # a name, not a bind
        names.append(host.strip("[]"))
    return names


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status, headers={"Cache-Control": "no-store"})


def _refused(status: int, message: str) -> JSONResponse:
    return _json({"error": message}, status)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _Refusal(413, f"the request body is limited to {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refusal(413, f"the request body is limited to {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_document(request: Request) -> Any:
    body = await _read_body(request)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON; nesting too deep
        raise _Refusal(400, "the body is not valid JSON") from None


def _face_of(document: Any, reader: bool) -> tuple[str, str] | None:
    """What a request gives the reader: ``("can", text)`` for a chip card's CAN
    (``{"qr": "CIDC1:..."}`` or ``{"can": "..."}``), ``("seal", text)`` for a sealed
    tag's key (``{"qr": "CIDS1:..."}``, only on a desk with a ``reader``: without one
    its credential is verified); None for a request of another kind."""
    if not isinstance(document, dict) or len(document) != 1:
        return None
    value = document.get("can", document.get("qr"))
    if not isinstance(value, str):
        return None
    if "can" in document or value.strip().startswith(qr.CAN_PREFIX):
        return ("can", value)
    if reader and value.strip().startswith(qr.SEALED_TAG_PREFIX):
        return ("seal", value)
    return None


def _credential_of(document: Any, extra: frozenset[str] = frozenset()) -> bytes:
    """The credential bytes a request carries; _Refusal for a malformed request.

    The request is a JSON object with exactly one of ``qr`` and ``credential`` and
    nothing else but the ``extra`` keys.
    """
    usage = 'send one JSON object: {"qr": "CID1:..."} or {"credential": "..."}'
    if not isinstance(document, dict) or not set(document) <= {"qr", "credential", *extra}:
        raise _Refusal(400, usage)
    sources = [key for key in ("qr", "credential") if key in document]
    if len(sources) != 1 or not isinstance(document[sources[0]], str):
        raise _Refusal(400, usage)
    key, value = sources[0], document[sources[0]]
    if key == "qr":
        return qr.decode(value.strip())
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Refusal(400, "credential must be standard base64") from None


_ROUTES = frozenset({"/", "/api/verify", "/api/health", "/api/events", "/api/ils/koha"})


def _loggable(path: str) -> str:
    """The path for the log: the service's own paths only (another could hold card text)."""
    if path in _ROUTES:
        return path
    if path.startswith("/static/") and path.isascii() and len(path) < 64:
        return "/static/..."
    return "(another path)"


class _Guard:
    """Refuse cross-site requests, add security headers, and log requests without content.

    A browser sends Origin on every cross-origin request and Sec-Fetch-Site on every
    request: one from another site is refused before any route sees it, so neither a
    form post nor a script on another page can use the service. The log line has the
    method, the path without its query string and the status; never a body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status_seen = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                    (
                        b"content-security-policy",
                        b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' "
                        b"blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                        b"frame-ancestors 'none'; form-action 'self'",
                    ),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        origin = headers.get("origin")
        host = headers.get("host", "")
        cross_site = headers.get("sec-fetch-site") in ("cross-site", "same-site")
        if cross_site or (
            origin is not None and origin not in (f"http://{host}", f"https://{host}")
        ):
            response: Response = _refused(403, "cross-origin requests are refused")
            await response(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)
        LOGGER.info("%s %s %d", scope["method"], _loggable(scope["path"]), status_seen)


def create_app(config: ServiceConfig) -> Starlette:
    """The ASGI application of the service (run it with uvicorn, see cli/serve.py)."""
    verifier, policy, hub = config.verifier, config.policy, config.hub

    async def verify_route(request: Request) -> Response:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _refused(415, "send application/json")
        try:
            document = await _json_document(request)
            face = _face_of(document, config.faces is not None)
            if face is not None:
                return _arm(*face)
            blob = _credential_of(document)
            now = config.clock()
            shown = policy.show(verifier.verify(blob, now=now), now.date())
        except _Refusal as refusal:
            return _refused(refusal.status, refusal.message)
        except ClientDisconnect:
            return Response(status_code=400)
        except CredentialError as error:
            shown = policy.reject(error)
            LOGGER.info("verify: rejected (%s)", type(error).__name__)
        else:
            LOGGER.info("verify: valid")
        return _json(shown)

    def _arm(kind: str, text: str) -> Response:
        """Give the reader loop what a card face opens its card with: 202, or why not."""
        if kind == "can" and (config.faces is None or config.terminal_role is None):
            return _refused(
                409,
                "this desk reads no chip cards: a chip card's QR code holds only the number "
                "that opens its chip (start serve with --reader and --terminal)",
            )
        assert config.faces is not None
        try:
            config.faces.put(Can(parse_can(text)) if kind == "can" else parse_face(text))
        except NotAFaceCode as error:
            LOGGER.info("verify: rejected (%s)", type(error).__name__)
            return _json(policy.reject(error))
        if kind == "can":
            LOGGER.info("verify: chip card number taken for the reader")
        else:
            LOGGER.info("verify: sealed tag key taken for the reader")
        return _json({"reading": "tap"}, 202)

    async def koha(request: Request) -> Response:
        if config.koha is None:
            return _refused(404, "the library system hand-off is not configured")
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _refused(415, "send application/json")
        try:
            document = await _json_document(request)
            on_reader = isinstance(document, dict) and document.get("reader") is True
            blob = b"" if on_reader else _credential_of(document, frozenset({"consent", "format"}))
            if on_reader and not set(document) <= {"reader", "consent", "format"}:
                raise _Refusal(400, 'send {"reader": true, "consent": true, "format": ...}')
            if document.get("format", "csv") not in ("csv", "json"):
                raise _Refusal(400, 'format is "csv" or "json"')
            if document.get("consent") is not True:
                raise _Refusal(403, "the patron has not agreed to be registered")
            if on_reader:
                # The card on the reader now, as its arrival showed it: a generation-2
                # card's data is not read again (its CAN was used and forgotten).
                shown = hub.on_reader or {}
            else:
                now = config.clock()
                try:
                    shown = policy.show(verifier.verify(blob, now=now), now.date())
                except CredentialError as error:
                    return _json(policy.reject(error), 422)
            branch, category = config.koha
            patron = koha_patron(shown, branchcode=branch, categorycode=category, consent=True)
        except _Refusal as refusal:
            return _refused(refusal.status, refusal.message)
        except IlsError as error:
            return _refused(409, str(error))
        LOGGER.info("koha: patron record handed over")
        if document.get("format", "csv") == "json":
            return _json({"patron": patron.rest_body()})
        return Response(
            koha_csv([patron]),
            media_type="text/csv; charset=utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": 'attachment; filename="koha-patron.csv"',
            },
        )

    async def health(request: Request) -> Response:
        now = config.clock()
        if config.status_info is not None:
            report = config.status_info(now)
        else:
            report = status_report(config.status_lists(), now)
        return _json(
            {
                "ok": True,
                "policy": policy.name,
                "fields": sorted(policy.keys),
                "implementation": verifier.implementation,
                "reader": config.events is not None,
                "chip_cards": config.faces is not None and config.terminal_role is not None,
                "sealed_tags": config.faces is not None,
                "terminal_role": config.terminal_role,
                "ils": config.koha is not None,
                "status_lists": report,
            }
        )

    async def events(request: Request) -> Response:
        return StreamingResponse(
            _event_stream(hub),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def index(request: Request) -> Response:
        with resources.as_file(_STATIC / "index.html") as page:
            return FileResponse(page, headers={"Cache-Control": "no-store"})

    def lifespan(app: Starlette) -> _Lifespan:
        return _Lifespan(config)

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/api/verify", verify_route, methods=["POST"]),
        Route("/api/health", health, methods=["GET"]),
        Route("/api/ils/koha", koha, methods=["POST"]),
        Route("/api/events", events, methods=["GET"]),
        Mount("/static", app=StaticFiles(packages=[("cityid_card.desk", "static")]), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=list(config.hosts), www_redirect=False),
            Middleware(_Guard),
        ],
        exception_handlers={405: _method_not_allowed, 404: _not_found},
        lifespan=lifespan,
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return _refused(405, "method not allowed")


async def _not_found(request: Request, exc: Exception) -> Response:
    return _refused(404, "not found")


async def _event_stream(hub: EventHub) -> AsyncIterator[str]:
    yield ": cityid-card reader events\n\n"
    with hub.subscribe() as queue:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"event: {event.get('event', 'message')}\ndata: {json.dumps(event)}\n\n"


class _Lifespan:
    """Runs the reader-event source and the tasks in threads while the service runs."""

    def __init__(self, config: ServiceConfig) -> None:
        self._config = config
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    async def __aenter__(self) -> None:
        source, hub = self._config.events, self._config.hub
        targets: list[tuple[Callable[..., None], tuple[Any, ...]]] = [
            (task, (self._stop,)) for task in self._config.tasks
        ]
        if source is not None:
            targets.append((_pump, (source, self._stop, hub)))
        for target, args in targets:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 5.0)


def _pump(source: EventSource, stop: threading.Event, hub: EventHub) -> None:
    """Publish what ``source`` yields until ``stop``; a failing source is logged and retried."""
    while not stop.is_set():
        try:
            for event in source(stop):
                hub.publish(event)
                if stop.is_set():
                    return
        except Exception as error:  # a reader that fails must not take the service down
            LOGGER.warning("reader events stopped (%s); retrying", type(error).__name__)
            hub.publish({"event": "reader-error", "error": type(error).__name__})
        stop.wait(1.0)
