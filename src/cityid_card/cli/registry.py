"""cityid-card registry: the city's registry of holders, cards and what happened to them.

DB is an SQLite file (the embedded default, created owner-only) or a postgresql://
URL. The registry is the one place a holder's name and date of birth are kept; see
docs/registry.md. Needs pip install 'cityid-card[registry]'.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityid_card.errors import CityIDError
from cityid_card.keys import IssuerKey
from cityid_card.status import DEFAULT_ENTRIES, StatusRegistry

from ._common import (
    EXIT_OK,
    add_force_flag,
    add_json_flag,
    add_key_flag,
    add_passphrase_flag,
    iso_date,
    load_issuer_key,
    print_json,
    whole_number,
)
from ._io import PRIVATE, check_output, write_output

if TYPE_CHECKING:
    from cityid_card.registry import Card, Medium, Reason, Registry

#: The reasons a clerk may give (the registry's list has station_lost too, for reclaim).
REASONS = ("lost", "stolen", "damaged", "deceased", "error", "other")
#: Default retention: holders whose cards all expired more than this long ago are purged.
DEFAULT_RETENTION_DAYS = 730


class RegistryNotInstalled(CityIDError):
    """The registry's libraries are not installed."""


def _registry_module() -> Any:
    try:
        import cityid_card.registry as module
    except ImportError:
        raise RegistryNotInstalled(
            "the registry needs its libraries: pip install 'cityid-card[registry]'"
        ) from None
    return module


def is_database(location: str | os.PathLike[str]) -> bool:
    """True if ``location`` names a registry database rather than a registry.json file."""
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgres://")):
        return True
    try:
        with open(text, "rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return Path(text).suffix in (".db", ".sqlite", ".sqlite3")


def open_registry(location: str) -> Registry:
    module = _registry_module()
    registry: Registry = module.Registry.open(location)
    return registry


def operator_id(args: argparse.Namespace) -> str:
    """Who acts: --operator, else $CITYID_OPERATOR, else the login name."""
    given = getattr(args, "operator", None) or os.environ.get("CITYID_OPERATOR")
    if given:
        return str(given)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def now() -> datetime:
    """The edge's clock, in whole seconds, UTC."""
    return datetime.now(UTC).replace(microsecond=0)


def record_from_args(args: argparse.Namespace, key: IssuerKey, medium: Medium) -> Card:
    """``issue``/``personalize --registry DB``: record the card; its index goes in the credential."""
    module = _registry_module()
    card: Card = module.record_issue(
        args.registry,
        key,
        name=args.name,
        date_of_birth=args.dob,
        issued=args.issued or date.today(),
        expires=args.expires,
        medium=medium,
        operator=operator_id(args),
        now=now(),
    )
    return card


@contextlib.contextmanager
def batch_registry(args: argparse.Namespace, key: IssuerKey, records: Any) -> Iterator[Any]:
    """``batch --registry DB``: the registry as the batch's indexes and records, in one."""
    module = _registry_module()
    with open_registry(args.registry) as registry:
        yield module.BatchRegistry(
            registry, key, records=records, operator=operator_id(args), clock=now
        )


def revoke_failed_card(args: argparse.Namespace, index: int) -> None:
    """A card recorded in a registry database failed before it was finished: revoke it.

    Its index was recorded (and may already be on a half-written card), so it is never
    handed out again; it is revoked with reason ERROR. Nothing happens without a database.
    """
    if not args.registry or not is_database(args.registry):
        return
    module = _registry_module()
    try:
        with open_registry(args.registry) as registry:
            registry.set_state(
                index=index, kind=module.EventKind.REVOKED, reason=module.Reason.ERROR,
                operator=operator_id(args), now=now(),
            )  # fmt: skip
    except CityIDError as error:  # the card's own failure is what the caller reports
        print(
            f"warning: status index {index} could not be revoked in the registry ({error}): "
            "revoke it by hand",
            file=sys.stderr,
        )


def add_operator_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--operator",
        metavar="ID",
        help="operator id recorded with the change (default: $CITYID_OPERATOR or the login name)",
    )


_EXAMPLES = """\
examples:
  cityid-card registry init city.db --key issuer.pem --kid CHI-2026-1
  cityid-card issue --key issuer.pem --registry city.db --name "Ana Sofia Rivera" \\
      --dob 1990-04-12 --expires 2031-11-20 --out card.cbor
  cityid-card registry find city.db --name "Ana Sofia Rivera" --dob 1990-04-12
  cityid-card revoke --registry city.db --index 4711 --reason lost
  cityid-card registry replace city.db --index 4711 --reason lost --key issuer.pem \\
      --expires 2031-11-20 --out new.cbor
  cityid-card registry lease city.db --station ward-7 --count 2000 --out ward-7.db
  cityid-card registry sync city.db ward-7.db
  cityid-card registry purge city.db --retention-days 730
  cityid-card registry export city.db --name - --dob 1990-04-12 --json"""
_DB = "the registry: an SQLite file or a postgresql:// URL"


def _add_tracked_key(parser: argparse.ArgumentParser) -> None:
    """The key a registry tracks, with its label and its status list's shape."""
    _add_key(parser)
    parser.add_argument("--kid", metavar="LABEL", help="the key's label (default: its thumbprint)")
    parser.add_argument(
        "--size", type=whole_number, default=DEFAULT_ENTRIES, help="status list entries"
    )
    parser.add_argument("--bits", type=int, choices=(1, 2, 4, 8), default=2,
                        help="bits per entry (2 allows suspension)")  # fmt: skip


def register(commands: Any) -> None:
    group: argparse.ArgumentParser = commands.add_parser(
        "registry", help="the city's registry of holders and cards", description=__doc__,
        epilog=_EXAMPLES,
    )  # fmt: skip
    actions = group.add_subparsers(
        dest="action", required=True, metavar="ACTION", help="what to do"
    )

    init = actions.add_parser(
        "init",
        help="create a registry that tracks an issuer key",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    init.add_argument("db", metavar="DB", help="the SQLite file to create, or a postgresql:// URL")
    _add_tracked_key(init)
    add_json_flag(init)
    init.set_defaults(run=run_init)

    add_key = actions.add_parser(
        "add-key",
        help="track another issuer key (a rotation)",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    add_key.add_argument("db", metavar="DB", help=_DB)
    _add_tracked_key(add_key)
    add_json_flag(add_key)
    add_key.set_defaults(run=run_add_key)

    find = actions.add_parser(
        "find",
        help="a holder's cards, by name and date of birth",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    find.add_argument("db", metavar="DB", help=_DB)
    _add_holder(find)
    add_json_flag(find)
    find.set_defaults(run=run_find)

    replace = actions.add_parser(
        "replace",
        help="replace a lost card: revoke it and issue the holder a new one",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    replace.add_argument("db", metavar="DB", help=_DB)
    replace.add_argument(
        "--index", type=whole_number, required=True, help="the old card's status index"
    )
    replace.add_argument("--reason", choices=REASONS, required=True, help="why it is replaced")
    replace.add_argument("--kid", metavar="LABEL", help="the old card's key, if several")
    _add_key(replace)
    replace.add_argument("--expires", type=iso_date, required=True, help="the new card's expiry")
    replace.add_argument("--issued", type=iso_date, help="issue date (default: today)")
    replace.add_argument("--gender", help="self-designated gender, printed on the card only")
    replace.add_argument("--out", type=Path, required=True, help="the new credential file")
    add_force_flag(replace, "the credential file")
    add_operator_flag(replace)
    add_json_flag(replace)
    replace.set_defaults(run=run_replace)

    lease = actions.add_parser(
        "lease",
        help="give an offline station a pool of indexes",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    lease.add_argument("db", metavar="DB", help=_DB)
    lease.add_argument("--station", required=True, metavar="NAME", help="e.g. ward-7")
    lease.add_argument(
        "--count", type=whole_number, required=True, help="indexes to add to its pool"
    )
    lease.add_argument("--out", type=Path, required=True, help="the station's file (SQLite)")
    lease.add_argument("--kid", metavar="LABEL", help="the key, if the registry has several")
    add_json_flag(lease)
    lease.set_defaults(run=run_lease)

    sync = actions.add_parser(
        "sync",
        help="bring a station's cards in, revocations out",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    sync.add_argument("db", metavar="DB", help=_DB)
    sync.add_argument("file", metavar="FILE", help="the station's file (from registry lease)")
    add_json_flag(sync)
    sync.set_defaults(run=run_sync)

    reclaim = actions.add_parser(
        "reclaim",
        help="take back a lost station's unused pool",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    reclaim.add_argument("db", metavar="DB", help=_DB)
    reclaim.add_argument("--station", required=True, metavar="NAME", help="the lost station")
    reclaim.add_argument("--free", action="store_true",
                         help="free the indexes instead of revoking them (the station's file "
                         "is known never to have issued from them)")  # fmt: skip
    add_operator_flag(reclaim)
    add_json_flag(reclaim)
    reclaim.set_defaults(run=run_reclaim)

    purge = actions.add_parser(
        "purge",
        help="delete holders whose cards all expired long ago",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    purge.add_argument("db", metavar="DB", help=_DB)
    purge.add_argument("--retention-days", type=whole_number, default=DEFAULT_RETENTION_DAYS,
                       metavar="DAYS", help="keep holders this long after their last card "
                       f"expired (default {DEFAULT_RETENTION_DAYS})")  # fmt: skip
    add_json_flag(purge)
    purge.set_defaults(run=run_purge)

    export = actions.add_parser(
        "export",
        help="everything the registry holds about a holder",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    export.add_argument("db", metavar="DB", help=_DB)
    _add_holder(export)
    add_json_flag(export)
    export.set_defaults(run=run_export)

    imports = actions.add_parser(
        "import",
        help="import registry.json and issued.jsonl files",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    imports.add_argument("db", metavar="DB", help=_DB)
    imports.add_argument("--status-registry", type=Path, required=True, metavar="JSON",
                         help="the registry.json of `status-list build`")  # fmt: skip
    imports.add_argument("--records", type=Path, nargs="*", default=[], metavar="JSONL",
                         help="issuance records files of `batch --records`")  # fmt: skip
    add_operator_flag(imports)
    add_json_flag(imports)
    imports.set_defaults(run=run_import)

    show = actions.add_parser(
        "show",
        help="the registry's keys and counts (no personal data)",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    show.add_argument("db", metavar="DB", help=_DB)
    add_json_flag(show)
    show.set_defaults(run=run_show)


def _add_key(parser: argparse.ArgumentParser) -> None:
    add_key_flag(parser)
    add_passphrase_flag(parser)


def holder_name(args: argparse.Namespace) -> str:
    """--name; ``-`` reads it from standard input, out of the process list and shell history."""
    name: str = args.name
    return sys.stdin.readline().rstrip("\r\n") if name == "-" else name


def _add_holder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name",
        required=True,
        help="the name as printed on the card; - reads it from standard input, which keeps "
        "it out of the process list and shell history",
    )
    parser.add_argument("--dob", type=iso_date, required=True, help="date of birth, YYYY-MM-DD")


def _say(args: argparse.Namespace, text: str, fields: dict[str, Any]) -> None:
    if args.json:
        print_json(fields)
    else:
        print(text)


def _describe(card: Card) -> str:
    where = f", station {card.station}" if card.station else ""
    dates = f"issued {card.issued}, expires {card.expires}" if card.issued else "no dates"
    medium = card.medium.value if card.medium else "-"
    return (
        f"  index {card.status_index:>8} (key {card.kid}): {card.state.value:<9} "
        f"{dates}, {medium}{where}"
    )


def run_init(args: argparse.Namespace) -> int:
    module = _registry_module()
    with load_issuer_key(args.key, args.passphrase_file, kid=args.kid) as key:
        thumbprint = module.key_thumbprint(key)
        kid = key.kid
    StatusRegistry(thumbprint, args.size, args.bits)  # refuse a bad size before creating
    with module.Registry.create(args.db) as registry:
        info = registry.add_key(kid, thumbprint, args.size, args.bits)
        backend = registry.backend
    _say(args, f"created a {backend} registry for key {info.kid}: {info.size} entries of "
         f"{info.bits} bits", {"backend": backend, "kid": info.kid, "size": info.size,
                              "bits": info.bits})  # fmt: skip
    return EXIT_OK


def run_add_key(args: argparse.Namespace) -> int:
    module = _registry_module()
    with load_issuer_key(args.key, args.passphrase_file, kid=args.kid) as key:
        thumbprint, kid = module.key_thumbprint(key), key.kid
    with open_registry(args.db) as registry:
        info = registry.add_key(kid, thumbprint, args.size, args.bits)
    _say(args, f"the registry now tracks key {info.kid}", {"kid": info.kid, "size": info.size,
         "bits": info.bits})  # fmt: skip
    return EXIT_OK


def run_find(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        holder = registry.find(holder_name(args), args.dob)
    cards = [] if holder is None else [card.to_json() for card in holder.cards]
    if args.json:
        print_json({"found": holder is not None, "cards": cards})
    elif holder is None:
        print("no holder with that name and date of birth")
    else:
        print(f"{len(holder.cards)} card{'s' * (len(holder.cards) != 1)}:")
        for card in holder.cards:
            print(_describe(card))
    return EXIT_OK


def run_replace(args: argparse.Namespace) -> int:
    module = _registry_module()
    from cityid_card.credential import Credential

    check_output(args.out, force=args.force)  # before an index is taken or a card revoked
    with load_issuer_key(args.key, args.passphrase_file) as key, open_registry(args.db) as registry:
        holder, old, new = registry.replace(
            index=args.index,
            kid=args.kid,
            reason=module.Reason(args.reason),
            thumbprint=module.key_thumbprint(key),
            issued=args.issued or date.today(),
            expires=args.expires,
            medium=module.Medium.FILE,
            operator=operator_id(args),
            now=now(),
        )
        credential = Credential(
            name=holder.name,
            date_of_birth=holder.date_of_birth,
            expires=args.expires,
            issued=args.issued or date.today(),
            gender=args.gender,
            status_index=new.status_index,
        )
        blob = key.issue(credential)
    write_output(args.out, blob, force=args.force, mode=PRIVATE)
    _say(args, f"index {old.status_index} revoked ({args.reason}); new card at index "
         f"{new.status_index} written to {args.out}; sign and publish the list",
         {"revoked": old.to_json(), "issued": new.to_json(), "out": str(args.out),
          "bytes": len(blob)})  # fmt: skip
    return EXIT_OK


def run_lease(args: argparse.Namespace) -> int:
    module = _registry_module()
    with open_registry(args.db) as registry:
        info = registry.key(kid=args.kid)
        held = module.lease(
            registry, args.out, station=args.station, count=args.count,
            thumbprint=info.thumbprint, now=now(),
        )  # fmt: skip
    _say(args, f"station {args.station}: {held} unused indexes in {args.out}",
         {"station": args.station, "pool": held, "out": str(args.out)})  # fmt: skip
    return EXIT_OK


def run_sync(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry, open_registry(args.file) as station:
        result = registry.sync(station)
        name = station.station
    _say(args, f"station {name}: {result.cards_in} cards and {result.events_in} events in, "
         f"{result.events_out} events out", {"station": name, **result.to_json()})  # fmt: skip
    return EXIT_OK


def run_reclaim(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        count = registry.reclaim(
            station=args.station, free=args.free, operator=operator_id(args), now=now()
        )
    done = "freed" if args.free else "revoked"
    _say(args, f"station {args.station}: lease closed, {count} unused indexes {done}",
         {"station": args.station, "indexes": count, "freed": args.free})  # fmt: skip
    return EXIT_OK


def run_purge(args: argparse.Namespace) -> int:
    before = date.today() - timedelta(days=args.retention_days)
    with open_registry(args.db) as registry:
        count = registry.purge(before)
    _say(args, f"deleted {count} holder{'s' * (count != 1)} whose cards all expired before "
         f"{before}", {"purged": count, "expired_before": before.isoformat()})  # fmt: skip
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        export = registry.export(holder_name(args), args.dob)
    if args.json:
        print_json({"found": export is not None, **(export or {})})
        return EXIT_OK
    if export is None:
        print("the registry holds nothing about a holder with that name and date of birth")
        return EXIT_OK
    print(f"holder: {export['holder']['name']}, born {export['holder']['date_of_birth']}")
    for card in export["cards"]:
        print(f"card: key {card['kid']}, index {card['status_index']}, {card['state']}, "
              f"issued {card['issued']}, expires {card['expires']}, {card['medium']}"
              + (f", station {card['station']}" if card["station"] else ""))  # fmt: skip
        for event in card["events"]:
            reason = f" ({event['reason']})" if event["reason"] else ""
            print(f"  {event['at']}  {event['event']}{reason} by {event['operator']}")
    print("nothing else is held: no address, no phone, no document, no other field")
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    from cityid_card.station import read_records

    status = StatusRegistry.load(args.status_registry)
    records = [record for path in args.records for record in read_records(path)]
    with open_registry(args.db) as registry:
        result = registry.import_files(status, records, operator=operator_id(args), now=now())
    _say(args, f"imported {result['cards']} cards ({result['with_holder']} with a holder); "
         f"{result['already_present']} already present", result)  # fmt: skip
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        keys, counts = registry.keys(), registry.counts()
        role, station, backend = registry.role.value, registry.station, registry.backend
    if args.json:
        print_json({"backend": backend, "role": role, "station": station, "counts": counts,
                    "keys": [{"kid": k.kid, "size": k.size, "bits": k.bits,
                              "list_number": k.list_number} for k in keys]})  # fmt: skip
        return EXIT_OK
    print(f"{backend} registry ({role}{', station ' + station if station else ''})")
    for k in keys:
        print(f"  key {k.kid}: {k.size} entries of {k.bits} bits, last list {k.list_number}")
    print("  " + ", ".join(f"{count} {what}" for what, count in sorted(counts.items())))
    return EXIT_OK


def revoke_in_database(args: argparse.Namespace) -> int:
    """``revoke --registry DB``: by index, or every card of a holder; with a reason."""
    module = _registry_module()
    kind = (
        module.EventKind.REINSTATED if args.reinstate
        else module.EventKind.SUSPENDED if args.suspend
        else module.EventKind.REVOKED
    )  # fmt: skip
    if kind is not module.EventKind.REINSTATED and args.reason is None:
        raise module.RegistryError("give a --reason: " + "|".join(REASONS))
    reason: Reason | None = None if args.reason is None else module.Reason(args.reason)
    with open_registry(args.registry) as registry:
        if args.index is not None:
            card, changed = registry.set_state(
                index=args.index, kind=kind, reason=reason, kid=args.kid,
                operator=operator_id(args), now=now(),
            )  # fmt: skip
            done = [card] if changed else []
            cards = [card]
        else:
            if kind is not module.EventKind.REVOKED:
                raise module.RegistryError("a holder's cards are revoked together, not suspended")
            assert reason is not None
            done = cards = registry.revoke_holder(
                name=holder_name(args), date_of_birth=args.dob, reason=reason,
                operator=operator_id(args), now=now(),
            )  # fmt: skip
    if args.json:
        print_json({"changed": len(done), "cards": [card.to_json() for card in cards]})
    elif not cards:
        print("no card to revoke for that holder", file=sys.stderr)
    else:
        for card in cards:
            said = "now" if card in done else "already"
            print(
                f"index {card.status_index} is {said} {card.state.value}; sign and publish the list"
            )
    return EXIT_OK
