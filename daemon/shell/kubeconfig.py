"""Credentials for a cluster: a kubeconfig (and context) or the pod's service account.

Loading is kubernetes_asyncio's own (``load_kube_config``, ``load_incluster_config``),
so exec plugins, client certificates, token files and the in-cluster token refresh
(re-read from the projected token file every minute) behave as they do for every
other user of the library. Two choices are ours: a refreshed token is never written
back to the user's kubeconfig (``persist_config=False``), and a failure names the
cluster, the file and the context instead of surfacing the loader's bare exception.

Opening the HTTP client on top of this configuration is ``kubeclient.connect``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from kubernetes_asyncio import client, config

from daemon import settings
from daemon.shell import kubeerrors

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ClusterConfigError(kubeerrors.KubeError):
    """A cluster's kubeconfig or in-cluster credentials could not be loaded (code 0)."""

    def __init__(self, message: str) -> None:
        """Reason ``ConfigError``; the message names the cluster and the file."""
        super().__init__(code=0, reason="ConfigError", message=message)

    def describe(self) -> str:
        """The message alone: it already says which cluster and file."""
        return self.message


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InClusterPaths:
    """Where the service account's token and CA are, and the environment naming the API."""

    token: str = f"{SERVICE_ACCOUNT_DIR}/token"
    ca: str = f"{SERVICE_ACCOUNT_DIR}/ca.crt"
    environ: Mapping[str, str] | None = None
    """``KUBERNETES_SERVICE_HOST``/``_PORT`` come from here (None: the process environment)."""


async def load(
    cluster: settings.ClusterConfig, *, incluster: InClusterPaths | None = None
) -> client.Configuration:
    """The kubernetes_asyncio configuration for ``cluster``; ``ClusterConfigError``."""
    cfg = client.Configuration()
    try:
        if cluster.in_cluster:
            paths = incluster or InClusterPaths()
            await asyncio.to_thread(
                config.load_incluster_config,
                client_configuration=cfg,
                token_filename=paths.token,
                cert_filename=paths.ca,
                environ=paths.environ if paths.environ is not None else os.environ,
            )
        else:
            # The loader is a coroutine (exec plugins, OIDC refresh) that reads the small
            # file itself, once, at start-up.
            await config.load_kube_config(
                config_file=_kubeconfig_path(cluster),
                context=cluster.context,
                client_configuration=cfg,
                persist_config=False,
            )
    except (config.ConfigException, OSError, KeyError, TypeError, ValueError) as exc:
        source = "the in-cluster service account" if cluster.in_cluster else cluster.kubeconfig
        context = f" (context {cluster.context!r})" if cluster.context else ""
        raise ClusterConfigError(
            f"cluster {cluster.name}: cannot load {source}{context}: {exc}"
        ) from exc
    return cfg


def _kubeconfig_path(cluster: settings.ClusterConfig) -> str:
    path = Path(cluster.kubeconfig or "").expanduser()
    if not path.is_file():
        # The loader would quietly fall back to an empty config and fail later, vaguely.
        raise ClusterConfigError(f"cluster {cluster.name}: kubeconfig {path} does not exist")
    return str(path)
