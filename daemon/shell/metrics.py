"""Prometheus metrics, read from the folded state when scraped.

Nothing here counts on its own: every figure is derived from the state the daemon
already folds from its log (``core.state``), so the numbers agree with ``gitopsd
status`` and survive restarts. The collector is registered on a private registry
that ``httpapi`` serves at ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from daemon.core import events as ev
from daemon.core import state as core_state

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StateCollector(Collector):
    """gitopsd_* metrics from the folded state."""

    def __init__(self, state: Callable[[], core_state.State]) -> None:
        """``state`` returns the current folded state."""
        self._state = state

    def collect(self) -> Iterator[Metric]:
        """One family per figure (prometheus_client calls this on each scrape)."""
        state = self._state()
        yield _gauge("gitopsd_log_position", "Position of the last event folded.", state.position)
        yield _counter("gitopsd_events_folded", "Events folded since the log began.", state.events)
        labels = ["app", "target"]
        health = GaugeMetricFamily(
            "gitopsd_app_health",
            "1 for the target's current health (label health), 0 for the others.",
            labels=[*labels, "health"],
        )
        synced = GaugeMetricFamily(
            "gitopsd_app_synced",
            "1 when the revision the target converges on is applied there.",
            labels=labels,
        )
        failed = GaugeMetricFamily(
            "gitopsd_app_failed_syncs", "Consecutive failed syncs of the target.", labels=labels
        )
        objects = GaugeMetricFamily(
            "gitopsd_app_objects", "Objects in the target's inventory.", labels=labels
        )
        for name, app in sorted(state.apps.items()):
            for where, target in sorted(app.targets.items()):
                for code in ev.Health:
                    value = 1.0 if target.health is code else 0.0
                    health.add_metric([name, where, code.value], value)
                revision, _ = app.converge_on(target)
                done = revision is not None and revision == target.last_synced_revision
                synced.add_metric([name, where], 1.0 if done else 0.0)
                failed.add_metric([name, where], float(target.failed_syncs))
                objects.add_metric([name, where], float(len(target.inventory)))
        yield from (health, synced, failed, objects)
        failing = GaugeMetricFamily(
            "gitopsd_source_failing", "1 while polling the source fails.", labels=["source"]
        )
        commits = CounterMetricFamily(
            "gitopsd_source_commits", "Commits recorded on the source.", labels=["source"]
        )
        for name, src in sorted(state.sources.items()):
            failing.add_metric([name], 1.0 if src.failing else 0.0)
            commits.add_metric([name], float(src.commits))
        yield from (failing, commits)
        live = GaugeMetricFamily(
            "gitopsd_cluster_objects", "Objects watched in the cluster.", labels=["cluster"]
        )
        down = GaugeMetricFamily(
            "gitopsd_cluster_unreachable",
            "1 while the cluster's API does not answer.",
            labels=["cluster"],
        )
        for name, cluster in sorted(state.clusters.items()):
            live.add_metric([name], float(len(cluster.objects)))
            down.add_metric([name], 1.0 if cluster.unreachable else 0.0)
        yield from (live, down)


def registry_for(state: Callable[[], core_state.State]) -> CollectorRegistry:
    """A registry holding the state collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition format of ``registry``."""
    return generate_latest(registry)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value))
