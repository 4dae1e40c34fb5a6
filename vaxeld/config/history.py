"""The history section of the config: where reports read queue_log from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from vaxeld.config.types import HOST_RE, CredentialName, EnvName, FilePath, Name, Strict


class PostgresSource(Strict):
    """Asterisk's realtime queue_log in PostgreSQL (res_config_pgsql), one table per PBX."""

    host: Annotated[str, StringConstraints(pattern=HOST_RE)] = "127.0.0.1"
    port: int = Field(5432, gt=0, lt=65536)
    dbname: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    user: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    password_env: EnvName | None = None
    password_file: FilePath | None = None
    password_credential: CredentialName | None = None
    # PBX name -> the table its Asterisk writes (extconfig.conf: queue_log => pgsql,DB,TABLE).
    tables: dict[Name, Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]]
    # How Asterisk stamps the rows: "utc" with queue_log_realtime_use_gmt = yes in
    # logger.conf (recommended), "local" (the default of Asterisk) in the config's time zone.
    timestamps: Literal["utc", "local"] = "utc"
    # Also keep the call records in this database (tables vaxeld_calls, vaxeld_visits),
    # for every site and for Grafana; the user then needs CREATE, INSERT and DELETE there.
    records: bool = False


class HistoryConfig(Strict):
    """Where reports come from: the PBXs' queue_log files (default), or PostgreSQL."""

    store: FilePath = Path("/var/lib/vaxeld/history.duckdb")
    source: Literal["files", "postgresql"] = "files"
    postgresql: PostgresSource | None = None
    service_level_goal: float = Field(0.8, gt=0, le=1)  # shown against the level in reports

    @model_validator(mode="after")
    def _source_configured(self) -> HistoryConfig:
        if self.source == "postgresql" and self.postgresql is None:
            raise ValueError("source: postgresql needs a postgresql section")
        return self
