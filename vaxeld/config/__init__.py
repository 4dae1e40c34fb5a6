"""The routing config: one YAML file, validated strictly (models, loader, cross-checks)."""

from vaxeld.config.load import ConfigError, ConfigProblem, load_config, parse_config, read_secret
from vaxeld.config.models import (
    AgentGroupConfig,
    Config,
    LanguageConfig,
    MemberConfig,
    MenuConfig,
    PbxConfig,
    QueueConfig,
)

__all__ = [
    "AgentGroupConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "LanguageConfig",
    "MemberConfig",
    "MenuConfig",
    "PbxConfig",
    "QueueConfig",
    "load_config",
    "parse_config",
    "read_secret",
]
