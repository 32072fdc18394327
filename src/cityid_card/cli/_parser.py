"""The argument parser every cityid-card command uses.

argparse as it comes echoes what the user typed in its errors (``unrecognized
arguments: Plimsoll``, ``invalid choice: 'Ana'``): on this command line that is often a
name or a date of birth, which then lands in a terminal log or a support ticket.
:class:`CommandParser` reports every usage error in words of its own, with the usage
of the command that was being parsed (not the top-level one), and exits with status 2.
Its help is plain text: docstrings lose their reStructuredText markup, options show
their defaults, and examples keep their layout.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Generator, Sequence
from typing import Any, NoReturn

__all__ = ["CommandParser", "HelpFormatter", "plain_text"]

EXIT_USAGE = 2

_EXTRA = 'unexpected extra argument(s); quote values that contain spaces, e.g. --name "Ana Rivera"'
_INVALID_CHOICE = re.compile(
    r"^argument (?P<arg>[^:]+): invalid choice: .*\(choose from (?P<choices>[^()]*)\)$", re.DOTALL
)
_INVALID_VALUE = re.compile(r"^argument (?P<arg>[^:]+): invalid (?P<type>\S+) value: ", re.DOTALL)
_AMBIGUOUS = re.compile(r"^ambiguous option: .* could match (?P<matches>[-\w, ]+)$", re.DOTALL)
_IGNORED = re.compile(r"^argument (?P<arg>[^:]+): ignored explicit argument ", re.DOTALL)
_TYPE_WORDS = {"int": "a whole number", "float": "a number"}


def _safe_message(message: str) -> str:
    """argparse's error message without the user's text in it."""
    if message.startswith("unrecognized arguments:"):
        return _EXTRA
    if match := _INVALID_CHOICE.match(message):
        arg = match["arg"]
        choices = match["choices"].replace("'", "")
        if arg == "COMMAND":
            return "not a command of cityid-card"
        return f"argument {arg}: not one of the choices ({choices})"
    if match := _INVALID_VALUE.match(message):
        expected = _TYPE_WORDS.get(match["type"], "a valid value")
        return f"argument {match['arg']}: expected {expected}"
    if match := _AMBIGUOUS.match(message):
        return f"an abbreviated option could mean {match['matches']}: write it in full"
    if match := _IGNORED.match(message):
        return f"argument {match['arg']}: takes no value"
    return message


_ROLES = re.compile(r":[a-z]+:`~?(?:[\w.]*\.)?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_INTERPRETED = re.compile(r"`([^`]+)`")
_TITLE = re.compile(r"^cityid-card [^:]*: ")


def plain_text(text: str) -> str:
    """A docstring as terminal text: no ``literal`` or :role:`markup`, no title prefix."""
    text = _ROLES.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _INTERPRETED.sub(r"\1", text)
    untitled = _TITLE.sub("", text.strip(), count=1)
    if untitled != text.strip():  # "cityid-card verify: check ..." -> "Check ..."
        return untitled[:1].upper() + untitled[1:]
    return untitled


class HelpFormatter(argparse.HelpFormatter):
    """Plain text help: paragraphs wrapped, indented blocks (examples) kept, defaults shown."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in re.split(r"\n\s*\n", plain_text(text)):
            lines = paragraph.splitlines()
            if any(line[:1].isspace() for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(self._fill_text_paragraph(" ".join(lines), width, indent))
        return "\n\n".join(paragraphs)

    def _split_lines(self, text: str, width: int) -> list[str]:
        # Never break "cityid-card" or "pkcs11:token=..." at a hyphen.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text_paragraph(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )

    def _get_help_string(self, action: argparse.Action) -> str:
        text = plain_text(action.help or "")
        default = action.default
        empty = isinstance(default, list | tuple | set | frozenset) and not default
        if (
            action.option_strings
            and "default" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and not empty
        ):
            text += " (default: %(default)s)"
        return text

    def _iter_indented_subactions(
        self, action: argparse.Action
    ) -> Generator[argparse.Action, None, None]:
        # The top-level command list is printed grouped, in the epilog (see cli/__init__).
        if not getattr(action, "grouped_elsewhere", False):
            yield from super()._iter_indented_subactions(action)


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors never echo input, and name the command's own usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # One look for every command: ours keeps indented blocks as they are, which is
        # what a command asking for RawDescriptionHelpFormatter wants.
        kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # A subcommand's parser is run with parse_known_args and its leftovers used to
        # reach the top-level parser, which blamed them with the top-level usage.
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(_EXTRA)
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        """Print this command's usage and the error in words of our own; exit with 2."""
        self.print_usage(sys.stderr)
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: error: {_safe_message(message)}\n"
            f"(run '{self.prog} --help' for the options and examples)\n",
        )
