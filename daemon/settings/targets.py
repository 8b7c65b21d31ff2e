"""An app's targets from the configuration: the clusters its destination selects.

The pure selection and templating live in ``core.targets``; this module feeds it the
configured clusters and their labels. The loader's cross-checks have already refused a
destination that cannot be resolved (``checks``), so here a failure is a bug.
"""

from __future__ import annotations

from daemon.core import targets as core_targets
from daemon.settings.schema import AppConfig, Config, DestinationConfig


def selector_of(destination: DestinationConfig) -> core_targets.Selector | None:
    """The core selector a destination's ``selector`` describes (None without one)."""
    if destination.selector is None:
        return None
    return core_targets.Selector(
        match_labels=dict(destination.selector.match_labels),
        match_expressions=tuple(
            core_targets.Requirement(key=r.key, operator=r.operator, values=tuple(r.values))
            for r in destination.selector.match_expressions
        ),
    )


def names_of(destination: DestinationConfig) -> list[str]:
    """The clusters a destination names explicitly (``cluster`` or ``clusters``)."""
    if destination.cluster is not None:
        return [str(destination.cluster)]
    return [str(c) for c in destination.clusters]


def targets_of(config: Config, app: AppConfig) -> dict[str, str]:
    """Cluster -> namespace for every target of ``app`` (sorted by cluster)."""
    clusters = {str(c.name): dict(c.labels) for c in config.clusters}
    return core_targets.resolve(
        clusters=clusters,
        names=names_of(app.destination),
        selector=selector_of(app.destination),
        namespace=app.destination.namespace,
    )
