"""The ``cityid-card`` command line.

Exit status: 0 on success; 1 when a credential is rejected; 2 for a usage, file or
key problem. Errors are one line on standard error and never show personal data.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cityid_card import __version__
from cityid_card.errors import CityIDError, CredentialError

from . import (
    batch,
    completion,
    demo,
    face,
    hsm,
    inspect,
    issue,
    keygen,
    personalize,
    pki,
    read,
    readers,
    registry,
    serve,
    sim,
    status_list,
    verify,
    watch,
    write,
)
from ._common import EXIT_BROKEN_PIPE, EXIT_REJECTED, EXIT_USAGE, fail
from ._examples import add_missing
from ._parser import CommandParser

_COMMANDS = (
    keygen,
    issue,
    verify,
    inspect,
    status_list,
    demo,
    readers,
    personalize,
    pki,
    write,
    batch,
    read,
    sim,
    hsm,
    face,
    completion,
    registry,
    serve,
    watch,
)

#: The commands as `cityid-card --help` lists them: argparse has no groups of
#: subcommands, so the list is ours (a test checks every command is in exactly one).
COMMAND_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("issuing", ("issue", "demo")),
    ("verifying", ("verify", "inspect")),
    ("cards and tags", ("readers", "personalize", "write", "read", "sim")),
    ("revocation", ("status-list", "revoke")),
    ("registry", ("registry",)),
    ("station", ("batch", "face")),
    ("desk", ("serve", "watch")),
    ("keys", ("keygen", "hsm", "pki")),
    ("shell", ("completion",)),
)

_EXAMPLES = """\
examples:
  cityid-card keygen --kid CHI-2026-1 --out issuer.pem --trust trust.json
  cityid-card issue --key issuer.pem --registry registry.json \\
      --name "Ana Sofia Rivera Delgado" --dob 1990-04-12 --expires 2031-11-20 --out card.cbor
  cityid-card verify card.cbor --trust trust.json

Run 'cityid-card COMMAND --help' for a command's options and examples.
Exit status: 0 success, 1 credential rejected, 2 usage, file or key problem."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command's parser under one top-level parser."""
    parser = CommandParser(
        prog="cityid-card",
        description="Issue, inspect and verify signed municipal ID credentials.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="one of the commands below"
    )
    commands.grouped_elsewhere = True  # type: ignore[attr-defined]
    for module in _COMMANDS:
        module.register(commands)
    for child in commands.choices.values():
        add_missing(child)
    summaries = {action.dest: action.help or "" for action in commands._choices_actions}
    width = max(map(len, summaries)) + 2
    sections = []
    for title, names in COMMAND_GROUPS:
        lines = [f"  {name:<{width}}{summaries[name]}" for name in names]
        sections.append(f"{title}:\n" + "\n".join(lines))
    parser.epilog = "\n\n".join([*sections, _EXAMPLES])
    # The completion command describes the whole parser; it gets it here rather than
    # importing this package back (no import cycle: tests/test_package.py).
    parser.set_defaults(whole_parser=parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except BrokenPipeError:
        # Whoever read our output stopped (`| head`): end quietly, as Unix tools do, and
        # keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CredentialError as error:
        return fail(args, error, EXIT_REJECTED)
    except CityIDError as error:
        return fail(args, error, EXIT_USAGE)
    except OSError as error:  # said in words by fail: "card.cbor: no such file"
        return fail(args, error, EXIT_USAGE)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
