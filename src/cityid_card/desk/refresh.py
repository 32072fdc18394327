"""Status lists that refresh themselves: from a folder or an HTTPS URL, on a schedule.

A :class:`StatusListRefresher` fetches the signed lists from a :class:`StatusListSource`
(:class:`FolderSource`, :class:`HttpsSource`), checks each signature against the trust
store, and hands the newest list of each issuer key to the :class:`~cityid_card.Verifier`.
It never rolls back: a list older than the one in use is refused, and a list that
disappears from the source or a fetch that fails leaves the last good list in use.
Which of two lists is newer is :func:`list_order`'s answer, one function to switch when
signed status lists carry a list number.

The clock and the wait between rounds are arguments, so tests run the schedule without
waiting; fetching is the only I/O, in the sources.
"""

from __future__ import annotations

import logging
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from cityid_card.errors import CityIDError, StatusListError
from cityid_card.status import StatusListToken
from cityid_card.trust import TrustStore
from cityid_card.verifier import Verifier

__all__ = [
    "MAX_LIST_BYTES",
    "FolderSource",
    "HttpsSource",
    "RefreshReport",
    "StatusListRefresher",
    "StatusListSource",
    "StatusSourceError",
    "list_order",
    "source_for",
]

#: The largest status list file or download taken (a 2**24-entry list compresses below).
MAX_LIST_BYTES: Final = 4 * 1024 * 1024
#: Seconds between two rounds unless told otherwise: a folder is cheap to look at, a
#: city's server is asked once an hour.
FOLDER_INTERVAL: Final = 60.0
URL_INTERVAL: Final = 3600.0
_LOGGER = logging.getLogger("cityid_card.desk.refresh")


class StatusSourceError(CityIDError):
    """A status list source that cannot be used: not a folder, not https, unreachable."""


def list_order(token: StatusListToken) -> tuple[int, ...]:
    """The key that orders two lists of one issuer key: the larger is the newer.

    The list's version: its list number (0 for a list signed without one), then its
    issue time (``iat``), as the verifier orders them.
    """
    return token.version


class StatusListSource(Protocol):
    """Where signed status lists come from; ``fetch`` returns every token it has now."""

    @property
    def description(self) -> str:
        """What to call the source in a log line or a report (no credentials in it)."""
        ...

    def fetch(self) -> list[bytes]:
        """The tokens, as bytes; raise StatusSourceError if the source cannot be read."""
        ...


class FolderSource:
    """Every ``*.cwt`` file in a folder (the city's lists, copied or synced there)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @property
    def description(self) -> str:
        return f"folder {self.folder}"

    def fetch(self) -> list[bytes]:
        if not self.folder.is_dir():
            raise StatusSourceError("the status list folder does not exist or is not a folder")
        tokens = []
        for path in sorted(self.folder.glob("*.cwt")):
            try:
                if path.stat().st_size > MAX_LIST_BYTES:
                    raise StatusSourceError(f"{path.name} is larger than any status list")
                tokens.append(path.read_bytes())
            except OSError as error:  # removed or replaced while we looked: next round
                _LOGGER.warning("cannot read %s (%s)", path.name, error.strerror)
        return tokens


class HttpsSource:
    """One status list token at an HTTPS URL; the server's certificate is checked."""

    def __init__(
        self, url: str, *, context: ssl.SSLContext | None = None, timeout: float = 30.0
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise StatusSourceError("a status list URL must be https://")
        if parts.username or parts.password:
            raise StatusSourceError("a status list URL must not carry a user name or password")
        self.url = url
        self._context = context or ssl.create_default_context()
        self._timeout = timeout

    @property
    def description(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        return f"https://{parts.netloc}{parts.path}"

    def fetch(self) -> list[bytes]:
        request = urllib.request.Request(  # noqa: S310  # https only, checked above
            self.url, headers={"Accept": "application/statuslist+cwt"}
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self._timeout, context=self._context
            ) as response:
                body: bytes = response.read(MAX_LIST_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise StatusSourceError(f"the status list server answered {error.code}") from None
        except (urllib.error.URLError, OSError, ssl.SSLError) as error:
            reason = getattr(error, "reason", error)
            raise StatusSourceError(
                f"cannot fetch the status list ({type(reason).__name__})"
            ) from None
        if len(body) > MAX_LIST_BYTES:
            raise StatusSourceError("the status list download is larger than any status list")
        return [body]


def source_for(location: str, *, context: ssl.SSLContext | None = None) -> StatusListSource:
    """The source a ``--status-lists DIR|URL`` names."""
    if location.startswith(("https://", "http://")):
        return HttpsSource(location, context=context)
    return FolderSource(location)


@dataclass(frozen=True)
class RefreshReport:
    """What one round did: lists taken, lists refused as older, errors (type names only)."""

    at: datetime
    updated: tuple[str, ...] = ()
    refused_older: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


class StatusListRefresher:
    """Keeps a verifier's status lists current from a source, never rolling back.

    A list older than the verifier has seen (:attr:`Verifier.seen_status_lists`, given
    back after a restart) is refused like one older than the list in use.
    ``keep_seen``, if given, is called with the verifier's ``seen_status_lists`` after
    each round that took a list: where the program keeps them across restarts.
    """

    def __init__(
        self,
        verifier: Verifier,
        source: StatusListSource,
        *,
        interval: float | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] | None = None,
        keep_seen: Callable[[dict[str, tuple[int, int]]], object] | None = None,
    ) -> None:
        self.verifier = verifier
        self._keep_seen = keep_seen
        self._seen_unkept = False
        self.source = source
        self.interval = interval or (
            URL_INTERVAL if isinstance(source, HttpsSource) else FOLDER_INTERVAL
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._lists: dict[str, StatusListToken] = {}
        self.last: RefreshReport | None = None

    @property
    def trust(self) -> TrustStore:
        return self.verifier.trust

    def current(self) -> list[StatusListToken]:
        """The lists in use, one per issuer key."""
        with self._lock:
            return list(self._lists.values())

    def refresh(self) -> RefreshReport:
        """One round: fetch, check signatures, take what is newer, refuse what is older."""
        now = self._clock()
        errors: list[str] = []
        try:
            tokens = self.source.fetch()
        except StatusSourceError as error:
            _LOGGER.warning("status lists not refreshed: %s", error)
            report = RefreshReport(now, errors=(type(error).__name__,))
            self.last = report
            return report
        newest: dict[str, StatusListToken] = {}
        for data in tokens:
            try:
                token = StatusListToken.from_bytes(data, self.trust)
            except StatusListError as error:
                _LOGGER.warning("a status list was refused: %s", error)
                errors.append(type(error).__name__)
                continue
            seen = newest.get(token.kid)
            if seen is None or list_order(token) > list_order(seen):
                newest[token.kid] = token
        updated, refused = [], []
        seen_before = self.verifier.seen_status_lists
        with self._lock:
            lists = dict(self._lists)
            for kid, token in newest.items():
                current = lists.get(kid)
                if list_order(token) < seen_before.get(kid, (0, 0)):
                    refused.append(kid)  # older than a list seen before a restart
                    _LOGGER.warning("refused an older status list for %s than one seen", kid)
                elif current is None or list_order(token) > list_order(current):
                    lists[kid] = token
                    updated.append(kid)
                elif list_order(token) < list_order(current):
                    refused.append(kid)
                    _LOGGER.warning("refused an older status list for %s than the one in use", kid)
                elif token.data != current.data or token.bits != current.bits:
                    refused.append(kid)  # same number, other content: keep the first seen
                    _LOGGER.warning("refused a different status list for %s of the same age", kid)
            if updated:
                self.verifier.update_status_lists(lists.values())
                self._lists = lists
        if (updated or self._seen_unkept) and self._keep_seen is not None:
            try:
                self._keep_seen(self.verifier.seen_status_lists)
            except CityIDError as error:  # the lists are in use; tried again next round
                _LOGGER.warning("the status lists seen were not kept: %s", error)
                errors.append(type(error).__name__)
                self._seen_unkept = True
            else:
                self._seen_unkept = False
        report = RefreshReport(now, tuple(updated), tuple(refused), tuple(errors))
        if updated:
            _LOGGER.info("status lists updated: %s", ", ".join(updated))
        self.last = report
        return report

    def run(self, stop: threading.Event) -> None:
        """Refresh every ``interval`` seconds until ``stop`` is set (a thread's target)."""
        while not stop.is_set():
            self.refresh()
            if self._sleep is not None:
                self._sleep(self.interval)
            elif stop.wait(self.interval):
                return

    def report(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready: the lists' age (the oldest in use) and the last round's outcome."""
        now = now or self._clock()
        lists: Sequence[StatusListToken] = self.current()
        ages = [max(0, (now - token.issued_at).days) for token in lists]
        last = self.last
        return {
            "source": self.source.description,
            "age_days": max(ages, default=None),
            "lists": [
                {
                    "kid": token.kid,
                    "issued_at": token.issued_at.isoformat(),
                    "age_days": max(0, (now - token.issued_at).days),
                    "current": token.current(now),
                }
                for token in sorted(lists, key=lambda t: t.kid)
            ],
            "last_refresh": None if last is None else last.at.isoformat(),
            "last_errors": [] if last is None else list(last.errors),
            "refused_older": [] if last is None else list(last.refused_older),
        }
