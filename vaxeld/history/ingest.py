"""Bring the store up to date with every source the config names: what is new only."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from vaxeld.config import Config
from vaxeld.config.load import read_caller_key, secret_value
from vaxeld.history.files import ingest_files
from vaxeld.history.postgres import ingest_postgres
from vaxeld.history.store import HistoryStore
from vaxeld.state.repeats import CallerKey

Progress = Callable[[str], None]


def ingest(store: HistoryStore, config: Config, environ: dict[str, str], progress: Progress) -> int:
    """Lines added from the PBXs' queue_log files, or from PostgreSQL."""
    started = time.monotonic()
    added = 0
    history = config.history
    if history.source == "postgresql":
        source = history.postgresql
        assert source is not None  # validated
        password = secret_value(
            source.password_env,
            source.password_file,
            environ,
            "history.postgresql.password",
            source.password_credential,
        )
        progress(f"reading queue_log from PostgreSQL {source.host}:{source.port}/{source.dbname}")
        added = ingest_postgres(store, source, password, config.timezone, progress)
    else:
        for pbx in config.pbxs:
            if pbx.queue_log is None:
                continue
            progress(f"reading {pbx.queue_log} and its rotations ({pbx.name})")
            added += ingest_files(store, pbx.name, pbx.queue_log)
    progress(f"{added} new lines in {time.monotonic() - started:.1f} s")
    return added


@contextlib.contextmanager
def up_to_date_store(
    config: Config,
    path: Path | None,
    environ: dict[str, str],
    progress: Progress,
    read_new: bool = True,
) -> Iterator[HistoryStore]:
    """The history store (``path``, or the config's), hashing caller numbers with the
    config's caller key, with what is new in its sources read first (unless not
    ``read_new``). Raises ConfigError for a key that cannot be read."""
    key = read_caller_key(config, environ)
    with HistoryStore(
        path or config.history.store, caller_key=None if key is None else CallerKey(key)
    ) as store:
        if read_new:
            ingest(store, config, environ, progress)
        yield store
