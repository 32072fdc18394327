"""cityid-card completion: print a shell completion script for cityid-card.

The script is generated from the command line's own parser by shtab, so it always
knows every command and option of this version. It is static: pressing TAB runs no
Python (argcomplete, the alternative, starts the program on every TAB press).

examples:
  cityid-card completion bash > ~/.local/share/bash-completion/completions/cityid-card
  cityid-card completion zsh > "${fpath[1]}/_cityid-card"
  source <(cityid-card completion bash)        # this shell only
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import EXIT_OK

_SHELLS = ("bash", "zsh", "fish", "tcsh")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "completion", help="print a shell completion script (bash, zsh, fish, tcsh)",
        description=__doc__,
    )  # fmt: skip
    parser.add_argument("shell", choices=_SHELLS, help="the shell to complete in")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import shtab  # only this command needs it

    parser: argparse.ArgumentParser = args.whole_parser  # set by cli.build_parser
    _mark_files(parser, shtab.FILE)
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return EXIT_OK


def _mark_files(parser: argparse.ArgumentParser, files: object) -> None:
    """Complete file names wherever an argument is a path (shtab reads ``action.complete``)."""
    for action in parser._actions:
        if action.type is Path:
            action.complete = files  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _mark_files(child, files)
