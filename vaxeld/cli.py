"""Command line: ``vaxeld check|render|run``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from vaxeld import __version__
from vaxeld.config import Config, ConfigError, load_config
from vaxeld.logs import configure_logging
from vaxeld.render import render_all, write_atomically


def _load(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: {len(exc.problems)} error(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    print(
        f"{args.config}: OK ({len(config.queues)} queues, {len(config.languages)} languages, "
        f"entry number {config.entry.number})"
    )
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    try:
        changed = write_atomically(args.out, render_all(config))
    except OSError as exc:
        print(f"cannot write to {args.out}: {exc}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"{args.out}: already up to date")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    configure_logging(args.log_format)
    config = _load(args.config)
    if config is None:
        return 1
    from vaxeld.daemon import Daemon  # imported late: check/render need no asyncio stack

    try:
        daemon = Daemon(config, args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    try:
        asyncio.run(daemon.run())
    except OSError as exc:
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaxeld",
        description="Telephony integration daemon for a merged switchboard on Asterisk.",
    )
    parser.add_argument("--version", action="version", version=f"vaxeld {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate a config file")
    check.add_argument("config", type=Path)
    check.set_defaults(func=cmd_check)

    render = sub.add_parser("render", help="write the Asterisk dialplan and queue config")
    render.add_argument("config", type=Path)
    render.add_argument(
        "--out",
        type=Path,
        default=Path("dialplans"),
        help="directory for the rendered files (default: dialplans)",
    )
    render.set_defaults(func=cmd_render)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("config", type=Path)
    run.add_argument("--log-format", choices=("json", "console"), default="json")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
