"""The bundled demo: within a minute an incident opens and, unacknowledged, escalates."""

from __future__ import annotations

import shutil

import trio

from yuqingd.testing import Harness, running_daemon

from .conftest import REPO


async def test_demo_stream_opens_and_escalates_within_a_minute(tmp_path, autojump_clock):
    """The demo's recorded posts (times in the past) replay as live and drive the ladder."""
    shutil.copy(REPO / "etc/demo/stream.jsonl", tmp_path / "stream.jsonl")
    shutil.copy(REPO / "rules/demo.yaml", tmp_path / "demo.yaml")
    config = (REPO / "etc/demo/yuqingd.yaml").read_text(encoding="utf-8")
    config = config.replace("../../var/demo", "state").replace("../../rules/demo.yaml",
                                                                "demo.yaml")
    config = config.replace("{name: console, kind: console}", "{name: console, kind: capture}")
    config = config.replace("{name: alerts-file, kind: jsonl, path: state/alerts.jsonl}",
                            "{name: alerts-file, kind: capture}")
    config = config.replace("listen: 127.0.0.1:8470", "listen: 127.0.0.1:0")  # any free port
    (tmp_path / "yuqingd.yaml").write_text(config, encoding="utf-8")
    harness = Harness()
    async with running_daemon(tmp_path / "yuqingd.yaml", harness,
                              start_epoch=1_800_000_000) as daemon:
        await trio.sleep(60)
        kinds = harness.kinds("console")
        assert kinds[:2] == [("incident.opened", 1), ("incident.escalated", 2)]
        assert "六处学校" in harness.sent[0].text
        # The duty officer's alert carries their acknowledge link, served on 127.0.0.1.
        (ack,) = [a for a in harness.sent[0].actions if a.name == "ack"]
        assert ack.person == harness.sent[0].to[0].person
        assert ack.url.startswith(daemon.http_server.bound[0] + "/l/")


def test_eight_simulated_days_of_the_demo(tmp_path):
    """`yuqingd simulate` over the demo stream for eight days: a duty report at every shift
    end, the weekly briefing on each Monday, and the unacknowledged incident escalating."""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "yuqingd", "simulate", "--config", REPO / "etc/demo/yuqingd.yaml",
         "--events", REPO / "etc/demo/stream.jsonl", "--until", "2026-05-18T12:00:00+08:00"],
        capture_output=True, text=True, timeout=120, check=True)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    duty = [r for r in out if r["event"] == "report" and r["kind"] == "duty"]
    assert len(duty) == 16  # Sunday 20:00 to Monday a week later 08:00, two shifts a day
    assert {r["at"][11:16] for r in duty} == {"08:00", "20:00"}
    assert all(len(r["recipients"]) == 2 for r in duty)  # the incoming officer and leader
    weekly = [(r["at"], r["period"]) for r in out if r["event"] == "report"
              and r["kind"] == "weekly"]
    assert weekly == [("2026-05-11T09:00:00+08:00", "2026-W19"),
                      ("2026-05-18T09:00:00+08:00", "2026-W20")]
    levels = [r["level"] for r in out if r["event"] == "incident.escalated"]
    assert levels == [2, 3]
    assert len([r for r in out if r["event"] == "incident.repeated"]) == 3  # repeat_times
