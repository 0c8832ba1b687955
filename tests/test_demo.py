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
    (tmp_path / "yuqingd.yaml").write_text(config, encoding="utf-8")
    harness = Harness()
    async with running_daemon(tmp_path / "yuqingd.yaml", harness, start_epoch=1_800_000_000):
        await trio.sleep(60)
        kinds = harness.kinds("console")
        assert kinds[:2] == [("incident.opened", 1), ("incident.escalated", 2)]
        assert "六处学校" in harness.sent[0].text
