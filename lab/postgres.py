"""A throwaway PostgreSQL server on a loopback port, for the tests and the demo: initdb
and pg_ctl from Debian's postgresql package, run as the postgres user in a folder of its
own, stopped by its own pg_ctl afterwards (never the system's cluster)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lab.asterisk import free_port

# Asterisk's contrib/realtime/postgresql/postgresql_queue_log.sql, as it is.
QUEUE_LOG_TABLE = """
CREATE TABLE {table} (
    id BIGSERIAL PRIMARY KEY,
    time TIMESTAMP WITHOUT TIME ZONE,
    callid VARCHAR(80),
    queuename VARCHAR(256),
    agent VARCHAR(80),
    event VARCHAR(32),
    data1 VARCHAR(100),
    data2 VARCHAR(100),
    data3 VARCHAR(100),
    data4 VARCHAR(100),
    data5 VARCHAR(100)
);
"""


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL missing: install the Debian package postgresql")
    return found[-1]


class Postgres:
    def __init__(self, password: str = "lab-pg-secret") -> None:
        self.port = free_port()
        self.password = password
        self.folder = Path(tempfile.mkdtemp(prefix="vaxeld-pg-"))
        self.data = self.folder / "data"
        self.sockets = self.folder / "run"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> Postgres:
        self.sockets.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
            f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            _bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.folder / "postgres.log"), "-w", "start",
        )  # fmt: skip
        return self

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        env_password = f"PGPASSWORD={self.password}"
        res = subprocess.run(
            ["env", env_password, "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U",
             "postgres", "-d", dbname, "-v", "ON_ERROR_STOP=1", "-Atc", statement],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return res.stdout

    def create_queue_log(self, dbname: str, user: str, password: str, tables: list[str]) -> None:
        """A database and an account for Asterisk's realtime queue_log, its tables."""
        self.sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        self.sql(f"CREATE DATABASE {dbname} OWNER {user}")
        for table in tables:
            self.sql(QUEUE_LOG_TABLE.format(table=table), dbname)
            self.sql(f"ALTER TABLE {table} OWNER TO {user}", dbname)

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                ["runuser", "-u", "postgres", "--", _bin("pg_ctl"), "-D", str(self.data), "-m",
                 "fast", "-w", "stop"] if os.geteuid() == 0
                else [_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)
