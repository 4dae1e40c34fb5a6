"""The mqtt section of the config: live state to a broker, and commands from it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from vaxeld.config.types import (
    AMI_USER_RE,
    HOST_RE,
    CredentialName,
    EnvName,
    FilePath,
    Strict,
)


class MqttConfig(Strict):
    """Live state to an MQTT broker, and commands from it (see README, MQTT)."""

    host: Annotated[str, StringConstraints(pattern=HOST_RE)] = "127.0.0.1"
    port: int = Field(1883, gt=0, lt=65536)
    username: Annotated[str, StringConstraints(pattern=AMI_USER_RE)] | None = None
    # Like the AMI secret: never in this file.
    password_env: EnvName | None = None
    password_file: FilePath | None = None
    password_credential: CredentialName | None = None
    tls: bool = False
    ca_file: FilePath | None = None
    client_id: Annotated[str, StringConstraints(pattern=AMI_USER_RE)] = "vaxeld"
    topic_prefix: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}(/[A-Za-z0-9_-]{1,32}){0,3}$")
    ] = "vaxeld"
    min_interval_seconds: float = Field(1.0, ge=0.05, le=3600)  # per topic
    # How often a queue's growing wait is republished while callers wait (each time a
    # wake-up, a build and a message); longest_wait_since lets a display count itself.
    wait_refresh_seconds: float = Field(10.0, ge=1, le=3600)
    queue_size: int = Field(1000, ge=10, le=100000)  # outbox; the oldest is dropped when full
    commands: bool = True

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttConfig:
        sources = (self.password_env, self.password_file, self.password_credential)
        if sum(s is not None for s in sources) > 1:
            raise ValueError(
                "set at most one of password_env, password_file or password_credential"
            )
        return self
