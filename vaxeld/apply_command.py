"""`vaxeld apply`: put a config into Asterisk safely.

Validate, render, show what changes (contexts, priorities, globals, queues, members,
schedules), and with ``--yes`` install the files atomically, reload the dialplan and the
queues over AMI, and check that Asterisk then holds exactly what was rendered. Any
error or difference puts the previous files back, reloads again and exits non-zero with
the reason; the last set that passed is kept (``--rollback`` installs it again). Every
attempt is logged, and `vaxeld run` exports when each PBX was last applied.

A reload replaces what Asterisk holds at once; between a failed reload and the rollback
(well under a second) the contexts that failed to load are missing. Asterisk keeps the
contexts that did load, so a caller is routed by the old or the new plan throughout.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from vaxeld.ami.blocking import BlockingAmi
from vaxeld.ami.live_config import live_inventory, reload_rendered
from vaxeld.calendar import today_in
from vaxeld.config import Config, ConfigError, PbxConfig, load_config
from vaxeld.config.load import read_apply_account
from vaxeld.render import render_all, write_atomically
from vaxeld.render.files import EXTENSIONS_FILE, QUEUES_FILE
from vaxeld.render.inventory import Inventory, differences, inventory_of, unreadable

RENDERED = (EXTENSIONS_FILE, QUEUES_FILE)
APPLIED_FILE = "applied.json"  # per PBX: the last good apply (read by `vaxeld run`)
LOG_FILE = "apply.log"  # every attempt, one JSON line each
# A reload is done when it answers: look at once, and again briefly before rolling back
# (every moment a rejected rendering stays loaded is a moment callers might meet it).
VERIFY_SECONDS, VERIFY_AGAIN_AFTER = 0.25, 0.25

Render = Callable[[Config, date], dict[str, str]]


class ApplyFailed(Exception):
    """An apply that was rolled back (or could not start); the message says why."""


@dataclass(frozen=True)
class Target:
    pbx: PbxConfig
    folder: Path  # Asterisk's config folder, as seen from here
    state: Path  # this PBX's state folder

    @property
    def last_good(self) -> Path:
        return self.state / "last-good"


def read_files(folder: Path) -> dict[str, str]:
    """The rendered files as they are in ``folder`` (absent ones left out)."""
    out = {}
    for name in RENDERED:
        with contextlib.suppress(FileNotFoundError):
            out[name] = (folder / name).read_text(encoding="utf-8")
    return out


def digest(files: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:16]


def put_files(folder: Path, files: Mapping[str, str]) -> None:
    """Make ``folder``'s rendered files exactly ``files`` (all written atomically; a
    file not in ``files`` is removed)."""
    write_atomically(folder, files)
    for name in RENDERED:
        if name not in files:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()


def mismatch(ami: BlockingAmi, expected: Inventory, also: Inventory) -> list[str]:
    """How what Asterisk holds differs from ``expected`` (empty: not at all). Contexts
    are compared for every vaxeld context of ``expected`` and of ``also`` (the set
    being replaced), so a context that should have gone is found too."""
    wanted = expected.as_live()
    names = wanted.contexts.keys() | also.contexts.keys()
    deadline = time.monotonic() + VERIFY_SECONDS
    while True:
        live = only_contexts(live_inventory(ami, wanted), names)
        # Read as "from what was rendered to what Asterisk holds".
        problems = differences(wanted, live)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(VERIFY_AGAIN_AFTER)


def only_contexts(inv: Inventory, names: Iterable[str]) -> Inventory:
    keep = set(names)
    return dataclasses.replace(inv, contexts={k: v for k, v in inv.contexts.items() if k in keep})


class Applier:
    def __init__(self, config: Config, environ: dict[str, str], out: Callable[[str], None]):
        self.config, self.environ, self.say = config, environ, out

    def connect(self, target: Target) -> BlockingAmi:
        username, secret = read_apply_account(target.pbx, self.environ)
        return BlockingAmi(target.pbx.host, target.pbx.port, username, secret, timeout=20.0)

    def show(self, target: Target, new: Mapping[str, str], against_live: bool) -> list[str]:
        """What installing ``new`` changes: against the files, or what Asterisk holds."""
        if against_live:
            with self.connect(target) as ami:
                wanted = inventory_of(new).as_live()
                names = wanted.contexts.keys() | inventory_of(read_files(target.folder)).contexts
                return differences(only_contexts(live_inventory(ami, wanted), names), wanted)
        return differences(inventory_of(read_files(target.folder)), inventory_of(new))

    def install(self, target: Target, new: dict[str, str], what: str) -> str:
        """Install ``new``, reload, verify; on any failure put the old files back, reload
        and raise ApplyFailed. Returns what happened, for the log."""
        odd = unreadable(new)
        if odd:  # not what the renderers write: never shown to Asterisk
            raise ApplyFailed(f"not installed, {len(odd)} lines of an unknown shape: {odd[0]}")
        old = read_files(target.folder)
        # Parsed once: the change, and what Asterisk must hold after it or a rollback.
        old_inv, new_inv = inventory_of(old), inventory_of(new)
        changes = differences(old_inv, new_inv)
        with self.connect(target) as ami:
            if old == new and not mismatch(ami, new_inv, old_inv):
                self._record(target, new, "unchanged", [], what)
                return "unchanged: Asterisk already holds this rendering"
            put_files(target.folder, new)
            loaded = time.monotonic()
            try:
                reload_rendered(ami)
                problems = mismatch(ami, new_inv, old_inv)
            except Exception as exc:  # any failure on the way is a reason to go back
                problems = [f"{type(exc).__name__}: {exc}"]
            if not problems:
                write_atomically(target.last_good, new)
                self._record(target, new, "applied", changes, what)
                return f"applied ({len(changes)} changes), verified over AMI"
            put_files(target.folder, old)
            try:
                reload_rendered(ami)
                window = f"the new set was loaded for {(time.monotonic() - loaded) * 1000:.0f} ms; "
                back = mismatch(ami, old_inv, new_inv)
                restored = window + ("the previous set is back" if not back else f"AND {back[0]}")
            except Exception as exc:
                restored = f"AND reloading the previous set failed: {exc}"
        self._record(target, new, "rolled back", problems[:20], what)
        raise ApplyFailed(
            f"Asterisk did not take it ({len(problems)} differences from rendered to loaded, "
            f"first: {problems[0]}); {restored}"
        )

    def _record(
        self, target: Target, files: Mapping[str, str], result: str, notes: list[str], what: str
    ) -> None:
        entry = {
            "at": round(time.time(), 3),
            "pbx": target.pbx.name,
            "result": result,
            "what": what,
            "digest": digest(files),
            "notes": notes,
        }
        target.state.mkdir(parents=True, exist_ok=True)
        with open(target.state.parent / LOG_FILE, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        if result != "rolled back":
            write_atomically(target.state, {APPLIED_FILE: json.dumps(entry) + "\n"})


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One apply at a time (a second one waits for the first)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def targets(config: Config, only: str | None) -> list[Target]:
    found = [
        Target(p, p.asterisk_config_dir, config.apply.state_dir / p.name)
        for p in config.pbxs
        if p.asterisk_config_dir is not None and (only is None or p.name == only)
    ]
    if not found:
        which = f"PBX {only!r}" if only else "any PBX"
        raise ApplyFailed(f"no asterisk_config_dir for {which} in the config: nowhere to apply")
    return found


def apply(
    args: argparse.Namespace,
    environ: dict[str, str] | None = None,
    render: Render = render_all,
    out: Callable[[str], None] = print,
) -> int:
    """The command; ``render`` may be replaced (tests: a rendering Asterisk rejects)."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        out(f"{args.config}: not applied, the config is not valid:")
        for problem in exc.problems:
            out(f"  {problem}")
        return 2
    applier = Applier(config, dict(os.environ if environ is None else environ), out)
    try:
        chosen = targets(config, args.pbx)
        with locked(config.apply.state_dir):
            return _run(applier, chosen, render(config, today_in(config.timezone)), args)
    except (ApplyFailed, ConfigError, OSError) as exc:
        out(f"vaxeld apply: {exc}")
        return 1


def _run(
    applier: Applier, chosen: list[Target], rendered: dict[str, str], args: argparse.Namespace
) -> int:
    say = applier.say
    done: list[tuple[Target, dict[str, str]]] = []
    for target in chosen:
        new = read_files(target.last_good) if args.rollback else rendered
        if args.rollback and not new:
            raise ApplyFailed(f"{target.pbx.name}: no last good set in {target.last_good}")
        what = "rollback to the last good set" if args.rollback else "apply"
        against = "what Asterisk has loaded" if args.dry_run else f"{target.folder}"
        changes = applier.show(target, new, against_live=args.dry_run)
        say(f"{target.pbx.name}: {len(changes)} changes against {against}")
        for line in changes:
            say(f"  {line}")
        if not args.yes or args.dry_run:
            continue
        before = read_files(target.folder)
        try:
            say(f"{target.pbx.name}: {applier.install(target, new, what)}")
        except ApplyFailed as exc:
            say(f"{target.pbx.name}: NOT APPLIED, rolled back: {exc}")
            for earlier, files in reversed(done):  # all PBXs or none
                with contextlib.suppress(ApplyFailed):
                    applier.install(earlier, files, "rollback after another PBX failed")
                say(f"{earlier.pbx.name}: put back as it was")
            return 1
        done.append((target, before))
    if not args.yes and not args.dry_run:
        say("Nothing installed: run with --yes to install, reload and verify.")
    return 0
