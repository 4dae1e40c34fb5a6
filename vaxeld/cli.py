"""Command line: ``vaxeld check|render|apply|run|crisis|agent|report|plan``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vaxeld import __version__, commands
from vaxeld.ami.blocking import (
    AmiCommandError,
    carry_out_blocking,
    command_connection,
    crisis_status,
)
from vaxeld.calendar import today_in
from vaxeld.checks import calendar_warning, missing_prompts, secret_problems
from vaxeld.commands import CommandError, CommandRefused
from vaxeld.config import Config, ConfigError, load_config
from vaxeld.config.load import printable
from vaxeld.logs import configure_logging
from vaxeld.render import render_all, write_atomically
from vaxeld.render.files import EXTENSIONS_FILE

DEFAULT_CONFIG = "/etc/vaxeld/vaxeld.yaml"


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
    errors, warnings = secret_problems(config, dict(os.environ))
    if config.sounds.directory is not None:
        if config.sounds.directory.is_dir():
            warnings += missing_prompts(config, config.sounds.directory)
        else:
            warnings.append(
                f"sounds.directory: {config.sounds.directory} is not readable here; "
                "prompts not checked"
            )
    rendered = args.rendered / EXTENSIONS_FILE if args.rendered else None
    if rendered is not None and rendered.exists():
        warning = calendar_warning(rendered.read_text(encoding="utf-8"), today_in(config.timezone))
        if warning:
            warnings.append(f"{rendered}: {warning}")
    for warning in warnings:
        print(f"warning: {printable(warning)}", file=sys.stderr)
    if errors:
        print(f"{args.config}: {len(errors)} error(s)", file=sys.stderr)
        for error in errors:
            print(f"  {printable(error)}", file=sys.stderr)
        return 1
    print(
        f"{args.config}: OK ({len(config.queues)} queues, {len(config.languages)} languages, "
        f"{len(config.entries())} numbers, entry number {config.entry.number})"
        + (f", {len(warnings)} warning(s)" if warnings else "")
    )
    return 1 if warnings and args.strict else 0


def cmd_plan(args: argparse.Namespace) -> int:
    config = _load(_config_path(args))
    if config is None:
        return 1
    from vaxeld import plan_command  # imported late: plans read the history store

    return plan_command.run(config, args)


def cmd_report(args: argparse.Namespace) -> int:
    config = _load(_config_path(args))
    if config is None:
        return 1
    from vaxeld import report_command  # imported late: only reports need DuckDB

    return report_command.run(config, args)


def cmd_apply(args: argparse.Namespace) -> int:
    from vaxeld import apply_command

    args.config = _config_path(args)
    return apply_command.apply(args)


def cmd_render(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 1
    try:
        changed = write_atomically(args.out, render_all(config, today_in(config.timezone)))
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
    import uvloop  # measured 7-20 % less CPU per AMI event than asyncio's own loop

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(daemon.run())
    except OSError as exc:
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 1
    return 0


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("VAXELD_CONFIG", DEFAULT_CONFIG))


def _remote(args: argparse.Namespace, work: Callable[[Config], int]) -> int:
    config = _load(_config_path(args))
    if config is None:
        return 1
    try:
        return work(config)
    except CommandRefused as exc:  # Asterisk said no
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 1
    except CommandError as exc:  # the command itself is wrong
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"vaxeld: {problem}", file=sys.stderr)
        return 1
    except (OSError, AmiCommandError) as exc:
        print(f"vaxeld: {exc}", file=sys.stderr)
        return 1


def cmd_crisis(args: argparse.Namespace) -> int:
    def work(config: Config) -> int:
        if args.action == "status":
            pbxs = {p.name: p for p in config.pbxs}
            for name in commands.crisis_pbxs(config, args.pbx):
                with command_connection(pbxs[name], dict(os.environ), args.timeout) as ami:
                    state = crisis_status(ami)
                shown = (
                    f"on, mode {state['mode']}, message {state['message'] or '-'}"
                    if state["mode"]
                    else "off"
                )
                print(f"{name}: crisis {shown}")
            return 0
        body = {"message": args.message, "mode": args.mode, "pbx": args.pbx}
        plan = commands.plan(config, f"crisis/{args.action}", body)
        lines = carry_out_blocking(config, plan, dict(os.environ), args.timeout)
        for name in plan.pbxs:
            print(
                f"{name}: crisis {args.action}"
                + (f" ({args.message}, {args.mode})" if args.action == "on" else "")
            )
        for line in lines:
            if "not announced" in line:  # set, but vaxeld run learns of it late
                print(line)
        return 0

    if args.action == "on" and not args.message:
        print("vaxeld: crisis on needs --message ID", file=sys.stderr)
        return 2
    return _remote(args, work)


def cmd_agent(args: argparse.Namespace) -> int:
    def work(config: Config) -> int:
        body = {"agent": args.name, "reason": args.reason, "pbx": args.pbx}
        plan = commands.plan(config, f"agent/{args.action}", body)
        for line in carry_out_blocking(config, plan, dict(os.environ), args.timeout):
            print(line)
        return 0

    return _remote(args, work)


def _seconds(text: str) -> float:
    value = float(text)
    if not 0.1 <= value <= 600:
        raise argparse.ArgumentTypeError("must be between 0.1 and 600 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaxeld",
        description="Telephony integration daemon for a merged switchboard on Asterisk.",
    )
    parser.add_argument("--version", action="version", version=f"vaxeld {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate a config file")
    check.add_argument("config", type=Path)
    check.add_argument(
        "--rendered",
        type=Path,
        default=None,
        help="folder of the deployed rendering: warn when its calendar runs out",
    )
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
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

    config_help = f"config file (default: $VAXELD_CONFIG or {DEFAULT_CONFIG})"
    timeout: dict[str, Any] = {
        "type": _seconds,
        "default": 10.0,
        "help": "seconds each answer from Asterisk may take, in all (default: 10)",
    }
    crisis = sub.add_parser("crisis", help="switch the crisis announcement on or off (AstDB)")
    crisis.add_argument("action", choices=("on", "off", "status"))
    crisis.add_argument("--message", help="a message ID from crisis.messages (for on)")
    crisis.add_argument(
        "--mode",
        choices=("announce", "announce-only"),
        default="announce",
        help="announce then route as usual (default), or announce only",
    )
    crisis.add_argument("-c", "--config", help=config_help)
    crisis.add_argument("--pbx", help="only this PBX (default: every PBX in the config)")
    crisis.add_argument("--timeout", **timeout)
    crisis.set_defaults(func=cmd_crisis)

    report = sub.add_parser(
        "report", help="history report of a period (or two side by side) from queue_log"
    )
    report.add_argument("-c", "--config", help=config_help)
    from vaxeld.report_command import add_arguments

    add_arguments(report)
    report.set_defaults(func=cmd_report)
    plan = sub.add_parser(
        "plan", help="agents needed per interval (Erlang C and A) from history, or what if"
    )
    plan.add_argument("-c", "--config", help=config_help)
    from vaxeld.plan_command import add_arguments as plan_arguments

    plan_arguments(plan)
    plan.set_defaults(func=cmd_plan)

    agent = sub.add_parser("agent", help="log an agent in or out of their queues, or pause")
    agent.add_argument("action", choices=("login", "logout", "pause", "unpause"))
    agent.add_argument("name", help="member name or interface from agent_groups")
    agent.add_argument("--reason", help="pause reason (letters, digits, spaces, . _ -)")
    agent.add_argument("-c", "--config", help=config_help)
    agent.add_argument("--pbx", help="the PBX (default: the first in the config)")
    agent.add_argument("--timeout", **timeout)
    agent.set_defaults(func=cmd_agent)

    apply = sub.add_parser(
        "apply",
        help="install the rendering into Asterisk: diff, reload, verify, roll back on error",
    )
    apply.add_argument("-c", "--config", help=config_help)
    apply.add_argument("--yes", action="store_true", help="install (without: only show the diff)")
    apply.add_argument(
        "--dry-run",
        action="store_true",
        help="show the diff against what the live Asterisk has loaded, install nothing",
    )
    apply.add_argument(
        "--rollback", action="store_true", help="install the last set that passed (with --yes)"
    )
    apply.add_argument("--pbx", help="only this PBX (default: every PBX with asterisk_config_dir)")
    apply.set_defaults(func=cmd_apply)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
