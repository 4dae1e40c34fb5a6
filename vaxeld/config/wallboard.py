"""The wallboard section of the config: where `vaxeld run` serves the live page."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from vaxeld.config.types import HOST_RE, CredentialName, EnvName, FilePath, Strict


def is_loopback(address: str) -> bool:
    """Whether ``address`` reaches only this host (a name other than localhost does not)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class WallboardConfig(Strict):
    """The live wallboard page: read-only, pushed to the browser as things change."""

    enabled: bool = True
    # Without a port of its own, the page is served by the /metrics listener (one port
    # to open); with one, on its own listener (default address: loopback).
    listen_address: Annotated[str, StringConstraints(pattern=HOST_RE)] | None = None
    port: int | None = Field(None, gt=0, lt=65536)
    language: Literal["sv", "en"] = "sv"  # the page's labels
    title: Annotated[str, StringConstraints(min_length=1, max_length=60)] = "Växeln"
    # Pages open at once (wall screens, phones); one more is answered 503.
    max_clients: int = Field(256, ge=1, le=4096)
    # An access token, required when the page listens beyond loopback: the browser
    # opens http://host:port/?token=... once, and the page keeps it for its stream.
    token_env: EnvName | None = None
    token_file: FilePath | None = None
    token_credential: CredentialName | None = None

    @model_validator(mode="after")
    def _one_token_source(self) -> WallboardConfig:
        if self.listen_address is not None and self.port is None:
            raise ValueError("listen_address needs a port of its own (or leave both out)")
        sources = (self.token_env, self.token_file, self.token_credential)
        if sum(s is not None for s in sources) > 1:
            raise ValueError("set at most one of token_env, token_file or token_credential")
        return self

    @property
    def has_token(self) -> bool:
        return any(s is not None for s in (self.token_env, self.token_file, self.token_credential))

    def address(self, metrics_address: str) -> str:
        """Where the page listens: its own address, loopback for its own port, or the
        /metrics listener's."""
        if self.port is None:
            return metrics_address
        return self.listen_address or "127.0.0.1"

    def problem(self, metrics_address: str) -> str | None:
        """Why this section cannot run as given, if it cannot."""
        address = self.address(metrics_address)
        if self.enabled and not self.has_token and not is_loopback(address):
            where = "" if self.port is not None else " (the /metrics listener's)"
            return (
                f"the wallboard would listen on {address}{where}, beyond this host: set "
                "token_env, token_file or token_credential, or give it a loopback "
                "listen_address and port of its own"
            )
        return None
