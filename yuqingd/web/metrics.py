"""Prometheus ``/metrics``: read from the core at scrape time, in the daemon's own registry (the
process-wide default registry stays empty of ours, so tests and plugins cannot collide)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from yuqingd.metrics import Meters


class _Counted(Collector):
    """The metrics of a :class:`Meters`, served from the endpoint's registry."""

    def __init__(self, meters: Meters):
        self._meters = meters

    def collect(self) -> Iterator[Any]:
        yield from self._meters.registry.collect()


class CoreCollector(Collector):
    """Open incidents by severity, outbox depth and age, source health; ``core()`` may be
    None."""

    def __init__(self, core: Callable[[], Any]):
        self._core = core

    def collect(self) -> Iterator[Any]:
        core = self._core()
        if core is None:
            return
        open_ = GaugeMetricFamily("yuqingd_incidents_open", "未关闭事件数（按严重程度）",
                                  labels=["severity"])
        by_severity = Counter(i.severity for i in core.escalation.listing()
                              if i.status != "closed")
        for severity, count in sorted(by_severity.items()):
            open_.add_metric([severity], count)
        yield open_
        yield GaugeMetricFamily("yuqingd_outbox_depth", "待投递通知数",
                                value=core.store.undelivered_count())
        oldest = core.store.oldest_undelivered()
        yield GaugeMetricFamily("yuqingd_outbox_oldest_age_seconds",
                                "最早一条待投递通知已等待的秒数（无待投递时为 0）",
                                value=0.0 if oldest is None
                                else max(0.0, core.clock.time() - oldest))
        restarts = CounterMetricFamily("yuqingd_source_restarts", "信息源重启次数",
                                       labels=["source"])
        healthy = GaugeMetricFamily("yuqingd_source_healthy", "信息源是否正常（1 正常）",
                                    labels=["source"])
        for name, health in sorted(core.source_health().items()):
            restarts.add_metric([name], health.restarts)
            healthy.add_metric([name], 1 if health.healthy else 0)
        yield restarts
        yield healthy


def metrics_endpoint(core: Callable[[], Any],
                     meters: Meters | None = None) -> Callable[[Request], Any]:
    """The Starlette endpoint serving the text format of the daemon's registry: what the
    daemon counted as it happened (``meters``) and what is read from the core at scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoreCollector(core))
    if meters is not None:
        registry.register(_Counted(meters))

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
