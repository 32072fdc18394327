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
    demo,
    face,
    hsm,
    inspect,
    issue,
    keygen,
    personalize,
    read,
    readers,
    registry,
    sim,
    status_list,
    verify,
    write,
)
from ._common import EXIT_BROKEN_PIPE, EXIT_REJECTED, EXIT_USAGE, fail

_COMMANDS = (
    keygen,
    issue,
    verify,
    inspect,
    status_list,
    demo,
    readers,
    personalize,
    write,
    batch,
    read,
    sim,
    hsm,
    face,
    registry,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityid-card",
        description="Issue, inspect and verify signed municipal ID credentials.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
    except (CityIDError, OSError) as error:
        return fail(args, error, EXIT_USAGE)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
