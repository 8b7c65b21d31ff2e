"""One cluster's Kubernetes API, spoken through kubernetes_asyncio over HTTP.

``connect`` loads a kubeconfig (and context) or the in-cluster service account the way
kubernetes_asyncio does, and returns a ``KubeClient``: discovery (``resource_for``),
server-side apply, create (for ``generateName``), get, delete, paged list and watch,
every request passing through a client-side token bucket (``qps``/``burst``), a
timeout, and bounded retries of 429, 500, 503, 504 and unanswered requests (a create:
429 only) with capped exponential backoff, honouring the server's Retry-After (header
or ``details.retryAfterSeconds``). Failures surface as ``kubeerrors`` exceptions
naming the object.

Requests go through ``ApiClient.call_api`` (so authentication, token refresh, TLS and
the User-Agent are kubernetes_asyncio's) with ``_preload_content=False``: this module
reads status, headers and body itself, because the typed models validate what they
deserialize and the exceptions carry only the HTTP reason phrase (KUBE_API.md §7).
Discovery is read from ``/api/v1``, ``/apis`` and ``/apis/{g}/{v}`` directly and cached
per group-version; a kind missing from the cache refetches its group-version, so a
freshly Established CRD is found (KUBE_API.md §1.2 describes the DynamicClient's disk
cache, which this avoids). Nothing here logs headers or bodies: the bearer token and
Secret values never reach a log line.

What to apply, in which order, and what an answer means for a sync is the
executor's business; watching and recording is the informers'.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Self, TypeVar

import aiohttp
import orjson
import yarl
from kubernetes_asyncio import client

from daemon import logs, settings
from daemon.core import ids
from daemon.shell import kubeconfig, kubediscovery, kubeerrors, ratelimit
from daemon.shell.kubediscovery import Resource
from daemon.shell.kubeerrors import ApiError, KubeError, NoKindMatchError, UnreachableError

log = logs.get("kube")

JSON = dict[str, Any]
USER_AGENT = f"gitopsd/{importlib.metadata.version('gitopsd')}"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
DEFAULT_WATCH_SECONDS = 300
LIST_PAGE = 500
LIST_RESTARTS = 3

DeleteOutcome = Literal["deleted", "pending", "gone"]
"""``deleted``: removed (or would be, on a dry run); ``pending``: finalizers hold it;
``gone``: it was not there."""

ObjectRef = tuple[str, str, str, str]
"""``(api_version, kind, namespace, name)``; namespace "" for cluster-scoped objects."""

Target = str | ObjectRef
"""An object key (``group/kind/namespace/name``, preferred version) or an ``ObjectRef``."""

_T = TypeVar("_T")

# Failures that mean "no answer": the request may or may not have reached the server.
_NO_ANSWER: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    TimeoutError,
    OSError,
)


class WatchEvent(NamedTuple):
    """One line of a watch: ADDED, MODIFIED, DELETED or BOOKMARK, and the object."""

    type: str
    obj: JSON


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a request is retried."""

    attempts: int = 5
    """Attempts in all, the first included."""
    base: float = 0.2
    """First backoff, doubled on each further attempt."""
    cap: float = 10.0
    """Longest backoff."""
    max_retry_after: float = 60.0
    """Longest wait the server may ask for with Retry-After."""

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return min(self.cap, self.base * 2.0 ** (attempt - 1))


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


Configure = Callable[[], Awaitable[client.Configuration]]
"""Loads the configuration of a lazily opened client (``kubeconfig.load`` for a cluster)."""


class KubeClient:
    """A cluster's API: discovery, apply, get, delete, list and watch."""

    def __init__(
        self,
        api: client.ApiClient | Configure,
        *,
        name: str,
        qps: float = 50.0,
        burst: int = 100,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: ratelimit.Clock = time.monotonic,
        sleep: ratelimit.Sleep = asyncio.sleep,
    ) -> None:
        """Wrap ``api``, or open one on first use from what ``api`` loads; ``close`` closes it.

        ``clock``/``sleep`` drive the rate limiter and the backoff (tests inject them).
        """
        self._api = api if isinstance(api, client.ApiClient) else None
        self._configure = None if isinstance(api, client.ApiClient) else api
        self._open_lock = asyncio.Lock()
        self.name = name
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.bucket = ratelimit.TokenBucket(qps, burst, clock=clock, sleep=sleep)
        self.discovery = kubediscovery.Discovery(self._get_json)

    async def close(self) -> None:
        """Close the HTTP session (if one was opened)."""
        if self._api is not None:
            await self._api.close()
            self._api = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def api_client(self) -> client.ApiClient:
        """The kubernetes_asyncio ApiClient, opened now if this client is lazy."""
        if self._api is not None:
            return self._api
        async with self._open_lock:
            if self._api is None:
                assert self._configure is not None
                api = client.ApiClient(await self._configure())
                api.user_agent = USER_AGENT
                without_env_lookups(api)
                self._api = api
        return self._api

    # -- discovery --------------------------------------------------------------------

    async def resource_for(self, api_version: str, kind: str) -> Resource:
        """The resource serving ``kind`` at ``api_version``; ``NoKindMatchError`` if none."""
        return await self.discovery.resource_for(api_version, kind)

    async def resource_for_group_kind(self, group: str, kind: str) -> Resource:
        """The resource serving ``kind`` in ``group``, at the group's preferred version."""
        return await self.discovery.resource_for_group_kind(group, kind)

    async def is_namespaced(self, api_version: str, kind: str) -> bool:
        """Whether objects of ``kind`` live in namespaces."""
        return (await self.resource_for(api_version, kind)).namespaced

    async def server_version(self) -> JSON:
        """``GET /version`` (the cheapest request: a reachability probe)."""
        doc: JSON = await self._get_json("/version")
        return doc

    async def _get_json(self, path: str) -> Any:
        return (await self._request("GET", path)).json()

    async def _resolve(self, target: Target) -> tuple[Resource, str, str, str]:
        """Resource, namespace, name and display form of a key or an ``ObjectRef``."""
        if isinstance(target, str):
            parts = ids.parse_key(target)
            ref = ids.display_key(target)
            try:
                res = await self.resource_for_group_kind(parts.group, parts.kind)
            except KubeError as exc:
                raise exc.about(ref) from None
            return res, parts.namespace, parts.name, ref
        api_version, kind, namespace, name = target
        ref = _display(kind, namespace, name)
        try:
            res = await self.resource_for(api_version, kind)
        except KubeError as exc:
            raise exc.about(ref) from None
        return res, namespace, name, ref

    # -- objects ----------------------------------------------------------------------

    async def apply(
        self,
        body: Mapping[str, Any],
        *,
        field_manager: str = "gitopsd",
        force: bool = True,
        dry_run: bool = False,
    ) -> tuple[JSON, bool]:
        """Server-side apply ``body``; returns the object and whether this created it.

        ``dry_run`` runs everything (defaulting, validation, conflicts) and stores
        nothing. A namespaced object must name its namespace.
        """
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        target = (str(body.get("apiVersion", "")), str(body.get("kind", "")), namespace, name)
        res, _, _, ref = await self._resolve(target)
        if not name:
            raise ValueError(f"{ref}: an applied object needs metadata.name")
        if res.namespaced and not namespace:
            raise ValueError(f"{ref}: {res.kind} is namespaced: set metadata.namespace")
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        path = res.path(namespace=namespace, name=name)
        answer = await self._object_request(
            "PATCH", path, res, ref, query=query, body=dict(body), content_type=APPLY_CONTENT_TYPE
        )
        obj: JSON = answer.json()
        return obj, answer.status == 201

    async def create(
        self, body: Mapping[str, Any], *, field_manager: str = "gitopsd", dry_run: bool = False
    ) -> JSON:
        """POST ``body`` to its collection; returns the object the server stored.

        For objects named by ``metadata.generateName`` (server-side apply needs a name):
        the answer carries the name the server chose. A create is not idempotent, so it
        is retried only on 429 (refused before it was carried out): after a lost answer
        it may have happened, and the error is raised instead of creating a second one.
        """
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        shown = str(meta.get("name") or "") or str(meta.get("generateName") or "") + ids.GENERATED
        target = (str(body.get("apiVersion", "")), str(body.get("kind", "")), namespace, shown)
        res, _, _, ref = await self._resolve(target)
        if res.namespaced and not namespace:
            raise ValueError(f"{ref}: {res.kind} is namespaced: set metadata.namespace")
        query = [("fieldManager", field_manager)]
        if dry_run:
            query.append(("dryRun", "All"))
        answer = await self._object_request(
            "POST",
            res.path(namespace=namespace),
            res,
            ref,
            query=query,
            body=dict(body),
            retry=_is_refused,
        )
        return _with_type(answer.json(), res)

    async def get(self, target: Target) -> JSON | None:
        """The object, or None when it does not exist."""
        res, namespace, name, ref = await self._resolve(target)
        try:
            answer = await self._object_request(
                "GET", res.path(namespace=namespace, name=name), res, ref
            )
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        obj: JSON = answer.json()
        return _with_type(obj, res)

    async def delete(
        self,
        target: Target,
        *,
        propagation: str = "Background",
        dry_run: bool = False,
        uid_precondition: str | None = None,
    ) -> DeleteOutcome:
        """Delete an object: ``deleted``, ``pending`` (finalizers hold it) or ``gone``.

        With ``uid_precondition`` only that incarnation is deleted: a same-named object
        created since answers 409 Conflict (raised).
        """
        try:
            res, namespace, name, ref = await self._resolve(target)
        except NoKindMatchError:
            return "gone"  # the type is not served, so no such object exists
        options: JSON = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": propagation,
        }
        if dry_run:
            options["dryRun"] = ["All"]
        if uid_precondition:
            options["preconditions"] = {"uid": uid_precondition}
        path = res.path(namespace=namespace, name=name)
        try:
            answer = await self._object_request("DELETE", path, res, ref, body=options)
        except KubeError as exc:
            if exc.code == 404:
                return "gone"
            raise
        doc = answer.json()
        if doc.get("kind") == "Status":
            return "deleted"
        deleting = (doc.get("metadata") or {}).get("deletionTimestamp")
        return "pending" if deleting else "deleted"

    async def list(
        self,
        resource: Resource,
        *,
        label_selector: str | None = None,
        namespace: str = "",
        page_size: int = LIST_PAGE,
    ) -> tuple[list[JSON], str]:
        """Every matching object (in pages) and the list's resourceVersion."""
        query: list[tuple[str, str]] = [("limit", str(page_size))]
        if label_selector:
            query.append(("labelSelector", label_selector))
        path = resource.path(namespace=namespace)
        items: list[JSON] = []
        version = ""
        token = ""
        restarts = 0
        while True:
            page = query + ([("continue", token)] if token else [])
            try:
                doc = (await self._object_request("GET", path, resource, "", query=page)).json()
            except kubeerrors.ExpiredError:
                if not token or restarts >= LIST_RESTARTS:
                    raise
                # The continue token outlived the server's history: start over.
                items, version, token = [], "", ""
                restarts += 1
                continue
            meta = doc.get("metadata") or {}
            version = version or str(meta.get("resourceVersion", ""))
            items.extend(_with_type(item, resource) for item in doc.get("items") or [])
            token = str(meta.get("continue") or "")
            if not token:
                return items, version

    async def watch(
        self,
        resource: Resource,
        *,
        resource_version: str,
        label_selector: str | None = None,
        namespace: str = "",
        timeout_seconds: int = DEFAULT_WATCH_SECONDS,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes after ``resource_version``, BOOKMARKs included, until the server ends it.

        The iteration ends when the server closes the stream (``timeout_seconds``) or the
        connection breaks; resume from the last resourceVersion seen. A history too old
        for the server raises ``ExpiredError`` (relist); another ERROR event raises
        ``ApiError``. Close the iterator (``contextlib.aclosing``) when leaving early.
        """
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(int(timeout_seconds))),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if label_selector:
            query.append(("labelSelector", label_selector))
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout, sock_read=timeout_seconds + self.timeout
        )
        path = resource.path(namespace=namespace)
        resp = await self._retrying(
            lambda: self._open_stream(path, query=query, timeout=timeout), "GET", path
        )
        try:
            while True:
                try:
                    line = await resp.content.readline()
                except _NO_ANSWER as exc:
                    log.info("kube.watch_broken", cluster=self.name, path=path, error=repr(exc))
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                doc = orjson.loads(line)
                kind, obj = str(doc.get("type", "")), doc.get("object") or {}
                if kind == "ERROR":
                    raise kubeerrors.from_status(obj)
                yield WatchEvent(kind, obj)
        finally:
            resp.close()

    # -- transport --------------------------------------------------------------------

    async def _object_request(
        self,
        method: str,
        path: str,
        resource: Resource,
        ref: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        retry: Callable[[KubeError], bool] | None = None,
    ) -> _Answer:
        """A request on a resource's URL; a plain-text 404 means discovery was stale."""
        try:
            return await self._request(
                method, path, query=query, body=body, content_type=content_type, retry=retry
            )
        except KubeError as exc:
            if isinstance(exc, ApiError) and exc.plain and exc.code == 404:
                self.discovery.forget(resource.api_version)
                raise NoKindMatchError(resource.api_version, resource.kind, object_ref=ref) from exc
            raise exc.about(ref) from None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        retry: Callable[[KubeError], bool] | None = None,
    ) -> _Answer:
        """One request with rate limit, timeout and retries; raises ``KubeError``.

        ``retry`` says which failures may be retried (default: ``is_retryable``).
        """
        timeout = aiohttp.ClientTimeout(total=self.timeout)

        async def attempt() -> _Answer:
            resp = await self._open(
                method,
                path=path,
                query=query,
                body=body,
                content_type=content_type,
                timeout=timeout,
            )
            try:
                data = await resp.read()
            except _NO_ANSWER as exc:
                raise UnreachableError(f"{method} {path}: {_explain(exc)}") from exc
            finally:
                resp.release()
            if resp.status >= 400:
                raise kubeerrors.from_response(resp.status, resp.headers, data)
            return _Answer(resp.status, resp.headers, data)

        return await self._retrying(attempt, method, path, retry=retry)

    async def _open_stream(
        self, path: str, *, query: Sequence[tuple[str, str]], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        resp = await self._open(
            "GET",
            path=path,
            query=query,
            body=None,
            content_type="application/json",
            timeout=timeout,
        )
        if resp.status >= 400:
            try:
                data = await resp.read()
            except _NO_ANSWER as exc:
                raise UnreachableError(f"GET {path}: {_explain(exc)}") from exc
            finally:
                resp.release()
            raise kubeerrors.from_response(resp.status, resp.headers, data)
        return resp

    async def _open(
        self,
        method: str,
        *,
        path: str,
        query: Sequence[tuple[str, str]],
        body: Any,
        content_type: str,
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        try:
            api = await self.api_client()
            resp: aiohttp.ClientResponse = await api.call_api(
                path,
                method,
                query_params=list(query),
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
                _return_http_data_only=True,
            )
        except _NO_ANSWER as exc:
            raise UnreachableError(f"{method} {path}: {_explain(exc)}") from exc
        return resp

    async def _retrying(
        self,
        attempt: Callable[[], Awaitable[_T]],
        method: str,
        path: str,
        *,
        retry: Callable[[KubeError], bool] | None = None,
    ) -> _T:
        """Run ``attempt`` under the rate limit until it succeeds or may not be retried."""
        number = 0
        while True:
            number += 1
            await self.bucket.acquire()
            try:
                return await attempt()
            except KubeError as exc:
                retryable = retry(exc) if retry is not None else exc.is_retryable
                if not retryable or number >= self.retry.attempts:
                    raise
                wait = self.retry.wait(number, exc.retry_after)
                log.info(
                    "kube.retry",
                    cluster=self.name,
                    method=method,
                    path=path,
                    code=exc.code,
                    reason=exc.reason,
                    attempt=number,
                    wait=wait,
                )
                await self.sleep(wait)


def without_env_lookups(api: client.ApiClient) -> None:
    """Resolve the environment's proxy once, instead of on every request.

    kubernetes_asyncio opens its aiohttp session with ``trust_env=True``, so aiohttp
    reads ``~/.netrc`` and the proxy variables in a worker thread for every request:
    two thread hops per call (at 1,000 requests/s, a tenth of the daemon's CPU and
    milliseconds of latency each). A kube-apiserver never takes netrc credentials (the
    kubeconfig carries them); the proxy that ``HTTPS_PROXY``/``NO_PROXY`` name for the
    server (which kubectl honours too) is looked up here, once, unless the kubeconfig
    sets ``proxy-url``.
    """
    rest = api.rest_client
    rest.pool_manager._trust_env = False  # noqa: SLF001 - no public switch after creation
    if rest.proxy:  # the kubeconfig's proxy-url
        return
    try:
        proxy, auth = aiohttp.helpers.get_env_proxy_for_url(yarl.URL(api.configuration.host or ""))
    except LookupError:
        return  # no proxy for this server
    rest.proxy = str(proxy)
    if auth is not None:
        rest.proxy_headers = {**(rest.proxy_headers or {}), "Proxy-Authorization": auth.encode()}


def _is_refused(exc: KubeError) -> bool:
    """429: the server turned the request away before doing anything (safe to send again)."""
    return exc.code == 429


def _display(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _explain(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _with_type(obj: JSON, resource: Resource) -> JSON:
    """Items of built-in lists carry no kind/apiVersion (KUBE_API.md §0): fill them in."""
    if "kind" in obj and "apiVersion" in obj:
        return obj
    return {"apiVersion": resource.api_version, "kind": resource.kind, **obj}


async def connect(
    cluster: settings.ClusterConfig,
    *,
    retry: RetryPolicy | None = None,
    incluster: kubeconfig.InClusterPaths | None = None,
    sleep: ratelimit.Sleep = asyncio.sleep,
) -> KubeClient:
    """A client for ``cluster``, its configuration loaded now (close it when done)."""
    cfg = await kubeconfig.load(cluster, incluster=incluster)
    api = client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    without_env_lookups(api)
    return _client(api, cluster, retry=retry, sleep=sleep)


def lazy(
    cluster: settings.ClusterConfig,
    *,
    retry: RetryPolicy | None = None,
    incluster: kubeconfig.InClusterPaths | None = None,
    sleep: ratelimit.Sleep = asyncio.sleep,
) -> KubeClient:
    """A client for ``cluster`` that loads its configuration on the first request.

    A configuration that cannot be loaded fails that request (and the next ones, until
    it can) with ``kubeconfig.ClusterConfigError``, a ``KubeError``.
    """

    async def configure() -> client.Configuration:
        return await kubeconfig.load(cluster, incluster=incluster)

    return _client(configure, cluster, retry=retry, sleep=sleep)


def _client(
    api: client.ApiClient | Configure,
    cluster: settings.ClusterConfig,
    *,
    retry: RetryPolicy | None,
    sleep: ratelimit.Sleep,
) -> KubeClient:
    return KubeClient(
        api,
        name=cluster.name,
        qps=cluster.qps,
        burst=cluster.burst,
        timeout=cluster.timeout,
        retry=retry,
        sleep=sleep,
    )
