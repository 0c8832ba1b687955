"""Delivery throughput and latency: notifications through the outbox to a loopback webhook.

Baseline, measured in the same run: the same signed POSTs sent by a bare httpx loop without the
outbox. Latency (one notification at a time) is enqueue (the outbox row committed) → the
webhook's send() called; the pipeline part (item committed → enqueue) is not included.
Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import structlog
import trio
from yuqingd_robots.webhook import Webhook, WebhookOptions

from yuqingd.delivery.outbox import ChannelWorker
from yuqingd.model import Notification, Recipient
from yuqingd.notifiers import NotifierContext, NotifierSpec
from yuqingd.store import open_store
from yuqingd.testing_http import LoopbackServer
from yuqingd.time.clock import Clock


def notification(n: int) -> Notification:
    return Notification(id=f"n-{n}", kind="incident.opened", channel="hook", incident=f"I-{n}",
                        rule="负面舆情", title=f"测试通知 {n}", severity="高", level=2,
                        to=(Recipient("值班员", "张三"),), at="2026-12-04T01:00:00+00:00",
                        text="新舆情")


async def run(count: int, folder: Path) -> None:
    server = LoopbackServer().start()
    server.route("POST", "/hook", status=204)
    (folder / "secret").write_text("bench-secret")
    options = WebhookOptions.model_validate({"url": server.url("/hook"),
                                             "secret": {"file": "secret"}})
    spec = NotifierSpec("hook", "webhook", options, folder)
    async with httpx.AsyncClient() as http:
        clock = Clock()
        clock.start()
        bare = Webhook(spec)
        await bare.start(NotifierContext("hook", http=http, clock=clock))
        started = time.perf_counter()
        for n in range(count):
            await bare.send(notification(n))
        baseline = count / (time.perf_counter() - started)

        store = open_store(folder / "bench.db")
        called: dict[str, float] = {}
        enqueued: dict[str, float] = {}

        sent: list[int] = [0]
        target: list[int] = [count]
        done = trio.Event()

        class Timed(Webhook):
            async def send(self, n: Notification) -> None:
                called[n.id] = time.perf_counter()
                await super().send(n)
                sent[0] += 1
                if sent[0] >= target[0]:
                    done.set()

        timed = Timed(spec)
        worker = ChannelWorker(spec, timed, store, clock, timeout=10, max_backoff=60, http=http)
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            for n in range(count):
                notice = notification(count + n)
                store.enqueue(notice.id, "hook", notice.as_dict(), clock.time())
                enqueued[notice.id] = time.perf_counter()
                worker.wakeup.set()
                await trio.lowlevel.checkpoint()
            await done.wait()
            rate = count / (time.perf_counter() - started)
            # latency: one notification at a time (a burst would measure its own queue)
            called.clear()
            enqueued.clear()
            for n in range(max(5, count // 10)):
                notice = notification(3 * count + n)
                store.enqueue(notice.id, "hook", notice.as_dict(), clock.time())
                enqueued[notice.id] = time.perf_counter()
                target[0] += 1
                done = trio.Event()
                worker.wakeup.set()
                await done.wait()
            worker.stop()
        store.close()
    server.stop()
    latencies = sorted((called[i] - enqueued[i]) * 1000 for i in enqueued)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{count} notifications to a loopback webhook (HMAC-signed JSON POST)")
    print(f"  bare httpx loop (baseline): {baseline:8.1f}/s")
    print(f"  through the outbox:         {rate:8.1f}/s  ({rate / baseline:.2f}x baseline)")
    print(f"  enqueue → send() latency:   p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {p99:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="20 notifications (make test)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as folder:
        trio.run(run, 20 if args.smoke else args.count, Path(folder))


if __name__ == "__main__":
    main()
