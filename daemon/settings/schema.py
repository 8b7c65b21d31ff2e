"""The schema of ``gitopsd.yaml``: frozen dataclasses, their defaults and value types.

This is the only description of the file: the loader (``daemon.settings.loader``) converts
YAML field by field against these annotations, and ``config check --effective``
(``daemon.configdump``) writes them back. ``Duration``, ``ByteSize``, ``Name`` and
``YamlMapping`` are the value types the loader knows how to read; ``Secret`` prints as
``***``; ``Sensitive`` marks a string that came from the environment so that messages
never echo it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NewType

Duration = NewType("Duration", float)
"""Seconds, written in the file as ``30s``, ``5m``, ``1h``, ``7d`` or ``1h30m``."""

ByteSize = NewType("ByteSize", int)
"""Bytes, written as ``256Mi``, ``1Gi``, ``512MiB``, ``1G`` (10^9) or a plain integer."""

Name = NewType("Name", str)
"""A DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters."""

YamlMapping = NewType("YamlMapping", dict[str, Any])
"""A free-form mapping (Helm values): any YAML that JSON can carry, string keys."""

DEFAULT_CONFIG = "gitopsd.yaml"
DATABASE_URL_ENV = "GITOPSD_DATABASE_URL"
CONFIG_ENV = "GITOPSD_CONFIG"


@dataclasses.dataclass(frozen=True, slots=True)
class Secret:
    """A value that must never be printed; ``reveal()`` hands it to the code that needs it."""

    _value: str

    def reveal(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


# -- schema -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseConfig:
    """Where the event log lives. No URL: gitopsd runs an embedded PostgreSQL in state_dir/pg."""

    url: Secret | None = None
    pool_size: int = 10


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    """The daemon's HTTP server (health, metrics, API, webhooks, UI)."""

    listen: str = "127.0.0.1:8089"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    """A Kubernetes cluster gitopsd deploys to."""

    name: Name
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    qps: float = 50.0
    burst: int = 100
    timeout: Duration = Duration(30.0)
    namespaces: list[Name] = dataclasses.field(default_factory=list)
    """Namespaced RBAC (deploy/namespaced): informers list and watch only these namespaces
    instead of the whole cluster. Empty: cluster-wide."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """Credentials for a Git remote: HTTPS token or basic auth, or an SSH key."""

    token: Secret | None = None
    token_file: str | None = None
    username: str | None = None
    password: Secret | None = None
    password_file: str | None = None
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SourceConfig:
    """A Git repository and the ref gitopsd follows in it."""

    name: Name
    url: str
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    commit: str | None = None
    interval: Duration = Duration(60.0)
    timeout: Duration = Duration(60.0)
    auth: AuthConfig | None = None
    ca_file: str | None = None
    webhook_secret: Secret | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SelectorRequirementConfig:
    """One ``matchExpressions`` entry of a cluster selector (as Kubernetes writes it)."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSelectorConfig:
    """A label selector over the clusters' ``labels``."""

    match_labels: dict[str, str] = dataclasses.field(
        default_factory=dict, metadata={"key": "matchLabels"}
    )
    match_expressions: list[SelectorRequirementConfig] = dataclasses.field(
        default_factory=list, metadata={"key": "matchExpressions"}
    )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DestinationConfig:
    """Where an app's objects go: one cluster, a list, or the clusters a selector picks.

    ``namespace`` may be templated per target with ``{{cluster}}`` and ``{{labels.KEY}}``.
    """

    cluster: Name | None = None
    clusters: list[Name] = dataclasses.field(default_factory=list)
    selector: ClusterSelectorConfig | None = None
    namespace: str = "default"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KustomizeConfig:
    """Which Kustomize renders an app: gitopsd's own, or an installed binary."""

    binary: str = "builtin"
    """``builtin``, ``kustomize``, ``kubectl`` (found on PATH), or an absolute path."""
    build_options: list[str] = dataclasses.field(default_factory=list)
    """Extra arguments for the binary (``--enable-helm``, ``--load-restrictor ...``)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HelmConfig:
    """How a Helm chart at the app's path is rendered (``render.helm``).

    ``load`` fills ``release_name`` (the app's name) and ``namespace`` (the app's
    destination namespace) when they are left out, so a render needs nothing but this.
    """

    release_name: str | None = None
    namespace: str | None = None
    values_files: list[str] = dataclasses.field(default_factory=list)
    """Repository paths relative to the chart's path, merged in order (later wins)."""
    values: YamlMapping = dataclasses.field(default_factory=lambda: YamlMapping({}))
    """Inline values, merged over ``values_files``."""
    include_crds: bool = True
    skip_tests: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderLimitsConfig:
    """What one render of an app may use; past a limit the render fails, the daemon goes on."""

    memory: ByteSize = ByteSize(1 << 30)
    """Address space a render may add to its worker (RLIMIT_AS: the worker's size plus this)."""
    cpu: Duration = Duration(60.0)
    """CPU time of the render (RLIMIT_CPU, whole seconds, rounded up)."""
    wall_clock: Duration = Duration(60.0)
    """Time from handing the render to a worker until its result is back."""
    output: ByteSize = ByteSize(50 << 20)
    """Size of the serialized result (and cap on an exec command's or jsonnet's output)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderConfig:
    """How an app's manifests are produced from its path."""

    type: Literal["auto", "plain", "kustomize", "jsonnet", "exec", "helm"] = "auto"
    recurse: bool = False
    ext_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    tla: dict[str, str] = dataclasses.field(default_factory=dict)
    command: list[str] = dataclasses.field(default_factory=list)
    env: list[str] = dataclasses.field(default_factory=list)
    timeout: Duration = Duration(60.0)
    libs: list[str] = dataclasses.field(default_factory=list)
    """Jsonnet library directories (repository-relative), searched after the importing file's."""
    kustomize: KustomizeConfig = dataclasses.field(default_factory=KustomizeConfig)
    helm: HelmConfig = dataclasses.field(default_factory=HelmConfig)
    limits: RenderLimitsConfig = dataclasses.field(default_factory=RenderLimitsConfig)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryConfig:
    """Backoff for retrying a failed sync."""

    limit: int = 5
    backoff: Duration = Duration(5.0)
    max_backoff: Duration = Duration(300.0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncPolicyConfig:
    """When and how an app is synced."""

    auto: bool = True
    prune: bool = True
    self_heal: bool = True
    allow_recreate: bool = False
    create_namespace: bool = False
    resync: Duration = Duration(600.0)
    retry: RetryConfig = dataclasses.field(default_factory=RetryConfig)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RestrictionsConfig:
    """What an app may create (project-style guard rails), enforced before any apply."""

    namespaces: list[str] = dataclasses.field(default_factory=list)
    allowed_kinds: list[str] = dataclasses.field(default_factory=list)
    denied_kinds: list[str] = dataclasses.field(default_factory=list)
    cluster_scoped: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppConfig:
    """An application: a path in a source, rendered and synced to a destination."""

    name: Name
    source: Name
    path: str = "."
    destination: DestinationConfig
    render: RenderConfig = dataclasses.field(default_factory=RenderConfig)
    sync: SyncPolicyConfig = dataclasses.field(default_factory=SyncPolicyConfig)
    restrictions: RestrictionsConfig = dataclasses.field(default_factory=RestrictionsConfig)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderPoolConfig:
    """The worker processes every render runs in."""

    workers: int = 2


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole ``gitopsd.yaml``."""

    state_dir: str = ""
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    http: HttpConfig = dataclasses.field(default_factory=HttpConfig)
    render: RenderPoolConfig = dataclasses.field(default_factory=RenderPoolConfig)
    clusters: list[ClusterConfig] = dataclasses.field(default_factory=list)
    sources: list[SourceConfig] = dataclasses.field(default_factory=list)
    apps: list[AppConfig] = dataclasses.field(default_factory=list)
    path: str = dataclasses.field(default="", metadata={"internal": True})
    env_refs: Mapping[str, str] = dataclasses.field(
        default_factory=dict, compare=False, metadata={"internal": True}
    )
    """Key path -> the value as written, for every value that used ``${ENV}`` (so that
    ``config check --effective`` shows the reference, never what it expanded to)."""
    warnings: tuple[str, ...] = dataclasses.field(
        default=(), compare=False, metadata={"internal": True}
    )
    """``FILE:LINE: key.path: message`` for what loads but may not do what was meant (a
    selector that selects no cluster yet), in file order, for a command to print."""

    def database_url(self) -> str | None:
        """The external database URL: ``$GITOPSD_DATABASE_URL`` first, then the file."""
        from_env = os.environ.get(DATABASE_URL_ENV)
        if from_env:
            return from_env
        return self.database.url.reveal() if self.database.url else None

    def state_path(self) -> Path:
        """The state directory (embedded database, Git mirrors); created on demand by its users."""
        return Path(self.state_dir).expanduser()


def default_state_dir() -> str:
    """Systemd's ``$STATE_DIRECTORY`` when set, else ``.gitopsd`` in the working directory."""
    return os.environ.get("STATE_DIRECTORY", "").split(":")[0] or ".gitopsd"


def yaml_key(field: dataclasses.Field[Any]) -> str:
    """The key a schema field has in ``gitopsd.yaml``: ``metadata["key"]``, else its name."""
    return str(field.metadata.get("key", field.name))


DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
"""What a ``Name`` (and a Helm release namespace) must match."""


class Sensitive(str):
    """A string that came (partly) from the environment: never echoed in errors."""

    __slots__ = ()


def shown(text: str) -> str:
    """``text`` as an error message may quote it: ``repr``, or a placeholder when sensitive."""
    return "(value from the environment, not shown)" if isinstance(text, Sensitive) else repr(text)
