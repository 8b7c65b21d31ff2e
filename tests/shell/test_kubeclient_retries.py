"""KubeClient's rate limit, retries, timeouts and credentials, against the emulator's faults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import structlog
from kubefixtures import Sleeps, configmap
from kubernetes_asyncio import client

from daemon import settings
from daemon.shell import kubeclient, kubeconfig, kubeerrors, ratelimit
from kubesim.emulator import Emulator, run_emulator


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """The current fake time."""
        return self.now


def test_token_bucket_spends_the_burst_then_spaces_requests() -> None:
    """A full bucket serves `burst` at once, then one token per 1/qps seconds, queued in order."""
    clock = FakeClock()
    bucket = ratelimit.TokenBucket(10.0, 3, clock=clock)
    assert [round(bucket.reserve(), 6) for _ in range(5)] == [0.0, 0.0, 0.0, 0.1, 0.2]


def test_token_bucket_refills_up_to_the_burst() -> None:
    """Idle time refills the bucket at qps, never beyond burst."""
    clock = FakeClock()
    bucket = ratelimit.TokenBucket(10.0, 3, clock=clock)
    for _ in range(3):
        bucket.reserve()
    clock.now += 0.1
    assert round(bucket.reserve(), 6) == 0.0
    clock.now += 60.0
    assert [round(bucket.reserve(), 6) for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]


def test_token_bucket_with_zero_qps_does_not_limit() -> None:
    """A qps of 0 turns limiting off."""
    bucket = ratelimit.TokenBucket(0.0, 1, clock=FakeClock())
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]


async def test_client_requests_wait_for_tokens(
    cluster_config: settings.ClusterConfig, sleeps: Sleeps
) -> None:
    """Every request takes a token: with burst 1 at 5 qps, three requests wait 0, 0.2, 0.4 s."""
    cfg = await kubeconfig.load(cluster_config)
    kube = kubeclient.KubeClient(
        client.ApiClient(cfg), name="sim", qps=5.0, burst=1, clock=FakeClock(), sleep=sleeps
    )
    async with kube:
        for _ in range(3):
            await kube.server_version()
    assert [round(w, 6) for w in sleeps.waits] == [0.2, 0.4]


@pytest.mark.parametrize(
    ("code", "apf", "retry_after", "waits"),
    [
        (429, False, 3, [3.0]),  # Status JSON 429: Retry-After header and retryAfterSeconds
        (429, True, 2, [2.0]),  # priority-and-fairness 429: plain text and Retry-After
        (503, False, 1, [1.0]),  # 503 with Retry-After
        (500, False, 0, [0.2]),  # no Retry-After: the first backoff step
        (504, False, 0, [0.2]),
    ],
)
async def test_retryable_answers_are_retried_honouring_retry_after(  # noqa: PLR0917
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    sleeps: Sleeps,
    code: int,
    apf: bool,
    retry_after: int,
    waits: list[float],
) -> None:
    """429 (both kinds), 500, 503 and 504 are retried after the wait the server asked for."""
    rule = emulator.faults.inject(code, verb="patch", apf=apf, retry_after=retry_after)
    _, created = await kube.apply(configmap("retried"))
    assert (created, rule.fired, sleeps.waits) == (True, 1, waits)


def hook_body() -> dict[str, object]:
    """A ConfigMap named by generateName."""
    return {**configmap("x"), "metadata": {"generateName": "hook-", "namespace": "default"}}


async def test_a_refused_create_is_retried(
    kube: kubeclient.KubeClient, emulator: Emulator, sleeps: Sleeps
) -> None:
    """A create turned away with 429 (nothing done) is sent again after Retry-After."""
    rule = emulator.faults.inject(429, verb="create", retry_after=1)
    made = await kube.create(hook_body())
    assert (made["metadata"]["name"][:5], rule.fired, sleeps.waits) == ("hook-", 1, [1.0])


@pytest.mark.parametrize("code", [500, 503, 504])
async def test_a_create_is_not_retried_after_a_server_error(
    kube: kubeclient.KubeClient, emulator: Emulator, sleeps: Sleeps, code: int
) -> None:
    """A create is not idempotent: after a 5xx it may have happened, so it is not sent again."""
    rule = emulator.faults.inject(code, verb="create", retry_after=1)
    with pytest.raises(kubeerrors.ApiError) as caught:
        await kube.create(hook_body())
    assert (caught.value.code, rule.fired, sleeps.waits) == (code, 1, [])


async def test_backoff_doubles_and_attempts_are_bounded(
    kube: kubeclient.KubeClient, emulator: Emulator, sleeps: Sleeps
) -> None:
    """A fault that persists is retried with doubling backoff, then raised with its reason."""
    rule = emulator.faults.inject(500, verb="patch", times=-1, message="etcd is sad")
    with pytest.raises(kubeerrors.ApiError) as caught:
        await kube.apply(configmap("doomed"))
    err = caught.value
    assert (err.code, err.reason, err.message, err.object_ref) == (
        500,
        "InternalError",
        "Internal error occurred: etcd is sad",
        "ConfigMap/default/doomed",
    )
    assert (rule.fired, sleeps.waits) == (5, [0.2, 0.4, 0.8, 1.6])


async def test_backoff_is_capped(emulator: Emulator, sleeps: Sleeps) -> None:
    """No backoff exceeds the policy's cap, and a long Retry-After is cut to max_retry_after."""
    policy = kubeclient.RetryPolicy(attempts=6, base=1.0, cap=3.0, max_retry_after=5.0)
    assert [policy.wait(n, None) for n in range(1, 6)] == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert policy.wait(1, 120.0) == 5.0


async def test_non_retryable_errors_fail_at_once(
    kube: kubeclient.KubeClient, sleeps: Sleeps
) -> None:
    """A 4xx other than 429 is raised on the first answer, with no wait."""
    body = configmap("bad")
    body["metadata"]["name"] = "Not_A_Name"
    with pytest.raises(kubeerrors.ApiError) as caught:
        await kube.apply(body)
    assert (caught.value.code, sleeps.waits) == (422, [])


async def test_timeouts_are_retried_then_unreachable(
    emulator: Emulator, cluster_config: settings.ClusterConfig, sleeps: Sleeps
) -> None:
    """A server slower than the request timeout is retried, then reported as unreachable."""
    emulator.faults.latency = 0.5
    quick = dataclasses.replace(cluster_config, timeout=0.05)
    policy = kubeclient.RetryPolicy(attempts=2, base=0.01)
    async with await kubeclient.connect(quick, retry=policy, sleep=sleeps) as kube:
        with pytest.raises(kubeerrors.UnreachableError) as caught:
            await kube.server_version()
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        0,
        "Unreachable",
        "GET /version: timed out",
    )
    assert sleeps.waits == [0.01]


async def test_a_stopped_server_is_unreachable(sleeps: Sleeps, tmp_path: Path) -> None:
    """Connection refused after every attempt raises UnreachableError naming the request."""
    async with run_emulator(kubeconfig=tmp_path / "kubeconfig", controllers=False):
        pass
    cluster = settings.ClusterConfig(
        name=settings.Name("gone"), kubeconfig=str(tmp_path / "kubeconfig")
    )
    policy = kubeclient.RetryPolicy(attempts=3, base=0.01)
    async with await kubeclient.connect(cluster, retry=policy, sleep=sleeps) as kube:
        with pytest.raises(kubeerrors.UnreachableError) as caught:
            await kube.get("/ConfigMap/default/x")
    assert caught.value.message.startswith("GET /api/v1: ClientConnectorError")
    assert caught.value.object_ref == "ConfigMap/default/x"
    assert sleeps.waits == [0.01, 0.02]


async def test_retries_never_log_credentials(
    kube: kubeclient.KubeClient, emulator: Emulator, captured_logs: list[structlog.typing.EventDict]
) -> None:
    """Retry log lines name cluster, method, path, code and wait, and never the bearer token."""
    emulator.faults.inject(503, verb="get", retry_after=1)
    await kube.get("/ConfigMap/default/absent")
    retries = [e for e in captured_logs if e["event"] == "kube.retry"]
    assert retries == [
        {
            "event": "kube.retry",
            "log_level": "info",
            "component": "kube",
            "cluster": "sim",
            "method": "GET",
            "path": "/api/v1/namespaces/default/configmaps/absent",
            "code": 503,
            "reason": "ServiceUnavailable",
            "attempt": 1,
            "wait": 1.0,
        }
    ]
    assert emulator.token not in repr(captured_logs)


async def test_user_agent_and_context(tmp_path: Path) -> None:
    """The kubeconfig's named context picks the user; requests say User-Agent gitopsd/<version>."""
    tokens = {"t-admin": "admin", "t-bob": "bob"}
    async with run_emulator(
        tokens=tokens, kubeconfig=tmp_path / "kubeconfig", controllers=False
    ) as sim:
        cluster = settings.ClusterConfig(
            name=settings.Name("sim"),
            kubeconfig=str(tmp_path / "kubeconfig"),
            context="bob@gitopsd-sim",
        )
        async with await kubeclient.connect(cluster) as kube:
            await kube.server_version()
        last = sim.requests[-1]
    assert (last.user, last.user_agent) == ("bob", kubeclient.USER_AGENT)
    assert kubeclient.USER_AGENT.startswith("gitopsd/")


async def test_missing_kubeconfig_and_unknown_context_name_the_cluster(tmp_path: Path) -> None:
    """Loading errors say which cluster, file and context failed."""
    missing = settings.ClusterConfig(name=settings.Name("prod"), kubeconfig=str(tmp_path / "nope"))
    with pytest.raises(kubeconfig.ClusterConfigError) as caught:
        await kubeconfig.load(missing)
    assert str(caught.value) == f"cluster prod: kubeconfig {tmp_path / 'nope'} does not exist"
    async with run_emulator(kubeconfig=tmp_path / "kc", controllers=False):
        wrong = settings.ClusterConfig(
            name=settings.Name("prod"), kubeconfig=str(tmp_path / "kc"), context="nowhere"
        )
        with pytest.raises(kubeconfig.ClusterConfigError) as caught:
            await kubeconfig.load(wrong)
    assert str(caught.value).startswith(
        f"cluster prod: cannot load {tmp_path / 'kc'} (context 'nowhere'): "
    )


async def test_in_cluster_configuration(tmp_path: Path) -> None:
    """in_cluster reads the service-account token and CA and the KUBERNETES_SERVICE_* address."""
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    paths = kubeconfig.InClusterPaths(
        token=str(tmp_path / "token"),
        ca=str(tmp_path / "ca.crt"),
        environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
    )
    cluster = settings.ClusterConfig(name=settings.Name("here"), in_cluster=True)
    cfg = await kubeconfig.load(cluster, incluster=paths)
    assert (cfg.host, cfg.ssl_ca_cert, await cfg.get_api_key_with_prefix("BearerToken")) == (
        "https://10.96.0.1:443",
        str(tmp_path / "ca.crt"),
        "Bearer sa-token",
    )


async def test_in_cluster_without_service_account_is_a_config_error(tmp_path: Path) -> None:
    """Outside a pod, in_cluster fails with a message naming the cluster."""
    paths = kubeconfig.InClusterPaths(token=str(tmp_path / "token"), environ={})
    cluster = settings.ClusterConfig(name=settings.Name("here"), in_cluster=True)
    with pytest.raises(kubeconfig.ClusterConfigError) as caught:
        await kubeconfig.load(cluster, incluster=paths)
    assert str(caught.value) == (
        "cluster here: cannot load the in-cluster service account: Service host/port is not set."
    )


async def test_lazy_client_loads_its_configuration_on_first_use(
    tmp_path: Path, cluster_config: settings.ClusterConfig, sleeps: Sleeps
) -> None:
    """A lazy client opens nothing until asked; a missing kubeconfig fails each request, typed."""
    missing = settings.ClusterConfig(name=settings.Name("later"), kubeconfig=str(tmp_path / "kc"))
    kube = kubeclient.lazy(missing, sleep=sleeps)
    with pytest.raises(kubeerrors.KubeError) as caught:
        await kube.server_version()
    assert (type(caught.value), caught.value.code, caught.value.reason, str(caught.value)) == (
        kubeconfig.ClusterConfigError,
        0,
        "ConfigError",
        f"cluster later: kubeconfig {tmp_path / 'kc'} does not exist",
    )
    assert sleeps.waits == []  # a configuration problem is not retried
    await kube.close()
    async with kubeclient.lazy(cluster_config, sleep=sleeps) as working:
        assert (await working.server_version())["gitVersion"] == "v1.35.0"
