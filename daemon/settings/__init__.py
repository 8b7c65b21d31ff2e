"""The configuration file ``gitopsd.yaml``: its schema, loading and cross-checks.

Three modules, re-exported here so that callers write ``settings.Config``,
``settings.load`` and so on: ``schema`` (the frozen dataclasses, the only description of
the file, with their defaults and value types), ``loader`` (YAML to those dataclasses,
every problem as ``FILE:LINE: key.path: what is wrong``, ``${ENV}`` expansion) and
``checks`` (what one field alone cannot say: references, duplicate names, render and
source settings that must agree), which the loader runs after conversion.
"""

from daemon.settings.checks import MIN_RENDER_MEMORY, is_inside_repository
from daemon.settings.loader import load, loads, locate, parse_byte_size, parse_duration
from daemon.settings.schema import (
    CONFIG_ENV,
    DATABASE_URL_ENV,
    DEFAULT_CONFIG,
    AppConfig,
    AuthConfig,
    ByteSize,
    ClusterConfig,
    ClusterSelectorConfig,
    Config,
    DatabaseConfig,
    DestinationConfig,
    Duration,
    HelmConfig,
    HttpConfig,
    KustomizeConfig,
    Name,
    RenderConfig,
    RenderLimitsConfig,
    RenderPoolConfig,
    RestrictionsConfig,
    RetryConfig,
    Secret,
    SelectorRequirementConfig,
    SourceConfig,
    SyncPolicyConfig,
    YamlMapping,
    default_state_dir,
    yaml_key,
)
from daemon.settings.targets import targets_of

__all__ = [
    "CONFIG_ENV",
    "DATABASE_URL_ENV",
    "DEFAULT_CONFIG",
    "MIN_RENDER_MEMORY",
    "AppConfig",
    "AuthConfig",
    "ByteSize",
    "ClusterConfig",
    "ClusterSelectorConfig",
    "Config",
    "DatabaseConfig",
    "DestinationConfig",
    "Duration",
    "HelmConfig",
    "HttpConfig",
    "KustomizeConfig",
    "Name",
    "RenderConfig",
    "RenderLimitsConfig",
    "RenderPoolConfig",
    "RestrictionsConfig",
    "RetryConfig",
    "Secret",
    "SelectorRequirementConfig",
    "SourceConfig",
    "SyncPolicyConfig",
    "YamlMapping",
    "default_state_dir",
    "is_inside_repository",
    "load",
    "loads",
    "locate",
    "parse_byte_size",
    "parse_duration",
    "targets_of",
    "yaml_key",
]
