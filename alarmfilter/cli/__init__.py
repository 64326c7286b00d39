"""`alarmfilter` command line. Each subcommand lives in its own module with `register(subparsers)`.

A user error (bad path, bad file) is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings

#: Subcommands in the order `--help` lists them; module = name with '-' -> '_' under alarmfilter.cli.
COMMANDS = ["demo", "replay", "data", "evaluate", "evaluate-thresholds", "simulate", "worker", "review", "hl7-sink",
            "bench"]


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def service_settings() -> Settings:
    """Settings of a long-running service (worker, review station), logging configured from them;
    a bad setting is a `CliError`."""
    from ..logs import configure_logging
    from ..settings import load_settings

    try:
        settings = load_settings()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


class _Parser(argparse.ArgumentParser):
    """No abbreviated options anywhere (`--bed 5` must not become `--beds 5`); subcommand parsers,
    nested ones included, are of this class too (argparse makes them of the parent's type)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alarmfilter", description="ICU alarm filter: forwards the actionable alarms.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"alarmfilter.cli.{name.replace('-', '_')}").register(sub)  # hl7-sink -> hl7_sink
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"alarmfilter {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"alarmfilter {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `alarmfilter evaluate --json | head`: the reader left, not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def readable_file(path: str) -> str:
    """argparse type: a file that exists and can be read."""
    import os

    if not os.path.exists(path):
        raise CliError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CliError(f"{path}: is a directory, expected a file")
    if not os.access(path, os.R_OK):
        raise CliError(f"{path}: not readable")
    return path


def readable_dir(path: str) -> str:
    import os

    if not os.path.exists(path):
        raise CliError(f"{path}: no such directory")
    if not os.path.isdir(path):
        raise CliError(f"{path}: not a directory")
    return path
