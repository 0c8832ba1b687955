"""What the daemon counts as it happens, for Prometheus (``/metrics``).

One :class:`Meters` per daemon, in a registry of its own (never the process-wide default one,
so tests and plugins cannot collide). Each part observes where the thing happens: the pipeline
when it commits an item, the supervisor when a source fails, the escalation when a deadline is
met or missed, a channel worker after each send. Parts built without one (``yuqingd
simulate``, tests of a single part) get a throwaway :data:`UNUSED`.
"""

from __future__ import annotations

import trio
from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
LAG_EVERY = 1.0  # seconds between two loop-lag probes
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Meters:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.items = Counter("yuqingd_items", "存入的新信息数（按信息源）", ["source"], registry=r)
        self.source_errors = Counter(
            "yuqingd_source_errors", "信息源错误数（failed：运行失败或停滞后重启；bad_record："
            "无法解析的记录）", ["source", "what"], registry=r)
        self.deadlines = Counter(
            "yuqingd_deadlines", "事件时限：按时完成（met）与逾期（missed），按种类",
            ["kind", "outcome"], registry=r)
        self.notifications = Counter(
            "yuqingd_notifications", "通知发送结果（delivered、failed、retry_later、rejected），"
            "按渠道", ["channel", "outcome"], registry=r)
        self.pipeline_latency = Histogram(
            "yuqingd_pipeline_latency_seconds", "信息从信息源发出到处理完毕（入库、规则）的时间",
            buckets=LATENCY_BUCKETS, registry=r)
        self.loop_lag = Histogram(
            "yuqingd_loop_lag_seconds", "事件循环延迟：定时唤醒比预定晚了多少",
            buckets=LAG_BUCKETS, registry=r)


UNUSED = Meters()


async def measure_loop_lag(meters: Meters, every: float = LAG_EVERY) -> None:
    """Sleep ``every`` seconds again and again; how late each wake-up comes is the loop's lag
    (a blocking call anywhere in the daemon shows here first)."""
    while True:
        due = trio.current_time() + every
        await trio.sleep_until(due)
        meters.loop_lag.observe(max(0.0, trio.current_time() - due))
