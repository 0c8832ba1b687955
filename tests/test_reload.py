"""Reload: applied whole or not at all; never a lost or doubled notification (virtual time)."""

from __future__ import annotations

import trio
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.notifiers import NotifierKind
from yuqingd.schema_types import STRICT
from yuqingd.testing import Harness, running_daemon

from .conftest import CONFIG


class FlakyOptions(BaseModel):
    model_config = STRICT
    fail_to_build: bool = False
    label: str = ""


class Recorder:
    """A notifier kind that records every send (no dedupe) and can fail to build."""

    def __init__(self):
        self.sends: list[str] = []
        self.send_seconds = 0.0

    @hookimpl
    def yuqingd_notifier_kinds(self):
        return [NotifierKind("recorder", FlakyOptions, self._create)]

    def _create(self, spec):
        if spec.options.fail_to_build:
            raise ConnectionError("SMTP server refused the login")
        return self

    async def send(self, notification):
        self.sends.append(notification.id)  # the remote side has it…
        await trio.sleep(self.send_seconds)  # …while we still wait for its answer


WITH_RECORDER = CONFIG.replace(
    "  - {{name: duty-phone, kind: capture}}",
    "  - {{name: duty-phone, kind: capture}}\n  - {{name: mail, kind: recorder%s}}",
).replace("channels: [duty-phone]", "channels: [duty-phone, mail]")


def burst(harness: Harness) -> None:
    for n in range(3):
        harness.post(f"n{n}", f"六处学校体罚学生 {n}")


async def test_reload_refuses_a_notifier_that_cannot_be_built(make_config, autojump_clock):
    """A notifier whose plugin raises while being built refuses the reload; the old one runs."""
    harness, recorder = Harness(), Recorder()
    path = make_config(WITH_RECORDER % "")
    async with running_daemon(path, harness, recorder) as daemon:
        path.write_text(path.read_text().replace("kind: recorder}", "kind: recorder, "
                                                 "fail_to_build: true}"), encoding="utf-8")
        assert not await daemon.reload()
        assert "mail" in daemon.reload_errors[0] and "SMTP server refused" in \
            daemon.reload_errors[0]
        assert "重新加载失败" in daemon.status_line()
        burst(harness)
        await trio.sleep(1)
        assert len(recorder.sends) == 1  # the old notifier still delivers


async def test_reload_during_a_send_does_not_send_twice(make_config, autojump_clock):
    """Changing a notifier while it is sending lets the send finish; the new one does not
    repeat it."""
    harness, recorder = Harness(), Recorder()
    recorder.send_seconds = 5
    path = make_config(WITH_RECORDER % "")
    async with running_daemon(path, harness, recorder) as daemon:
        burst(harness)
        await trio.sleep(1)  # the send is in flight
        path.write_text(path.read_text().replace("kind: recorder}", "kind: recorder, "
                                                 "label: 邮件}"), encoding="utf-8")
        async with trio.open_nursery() as nursery:  # two reloads at once are serialised
            nursery.start_soon(daemon.reload)
            nursery.start_soon(daemon.reload)
        await trio.sleep(60)
        assert len(recorder.sends) == 1
        assert daemon.delivery.workers["mail"].spec.options.label == "邮件"  # replaced
        assert daemon.store.undelivered_count() == 0


async def test_reload_refuses_removing_a_role_an_open_incident_needs(make_config,
                                                                     autojump_clock):
    """A role still on an open incident's ladder cannot be removed by a reload."""
    harness = Harness()
    path = make_config()
    async with running_daemon(path, harness) as daemon:
        burst(harness)
        await trio.sleep(1)
        (incident,) = daemon.store.incidents()
        text = path.read_text().replace("  组长: {person: 王强, channels: [duty-phone]}\n", "")
        path.write_text(text, encoding="utf-8")
        rules = path.parent / "rules.yaml"
        rules.write_text(rules.read_text().replace(
            "    - {notify: 组长, repeat_every: 1h}\n", ""), encoding="utf-8")
        assert not await daemon.reload()
        assert f"未关闭的事件 {incident.id}" in daemon.reload_errors[0]
        assert daemon.reload_errors[0].startswith(f"{path}:9:1: ")  # at roles:
        assert "组长" in daemon.config.roles


async def test_reload_refuses_changing_state_dir(make_config, autojump_clock):
    """state_dir cannot change under a running daemon; the reload says a restart is needed."""
    path = make_config()
    async with running_daemon(path, Harness()) as daemon:
        path.write_text(path.read_text().replace("state_dir: state", "state_dir: other"),
                        encoding="utf-8")
        assert not await daemon.reload()
        assert daemon.reload_errors[0] == (
            f"{path}:2:1: state_dir 的修改需要重启服务才能生效（{path.parent / 'state'} → "
            f"{path.parent / 'other'}）")  # at the line that changed it


async def test_reload_applies_new_thresholds_and_keeps_windows(make_config, autojump_clock):
    """Items counted before a reload still count after it, under the new threshold."""
    harness = Harness()
    path = make_config()
    async with running_daemon(path, harness) as daemon:
        harness.post("a", "六处学校体罚学生 a")
        await trio.sleep(1)
        rules = path.parent / "rules.yaml"
        rules.write_text(rules.read_text().replace("count: 3", "count: 2"), encoding="utf-8")
        assert await daemon.reload()
        harness.post("b", "六处学校体罚学生 b")  # second item: enough under the new rule only
        await trio.sleep(1)
        (incident,) = daemon.store.incidents()
        assert incident.item_count == 2  # the item counted before the reload is in it


async def test_control_commands_wait_for_start(make_config, autojump_clock):
    """Control commands are refused once shutdown has begun."""
    async with running_daemon(make_config(), Harness()) as daemon:
        daemon.request_stop()
        reply = await daemon.handle({"command": "status"})
        assert reply == {"ok": False, "error": "yuqingd 正在启动或停止，请稍后再试"}


async def test_reload_removed_rule_stops_matching_but_its_incident_stays(make_config,
                                                                          autojump_clock):
    """Removing a rule stops it matching (no ghosts); its open incident keeps escalating."""
    harness = Harness()
    path = make_config()
    async with running_daemon(path, harness) as daemon:
        burst(harness)
        await trio.sleep(1)
        rules = path.parent / "rules.yaml"
        text = rules.read_text()
        rules.write_text(text[: text.index("rules:")] + "rules: []\n", encoding="utf-8")
        assert await daemon.reload()
        for n in range(10, 13):
            harness.post(f"n{n}", f"城关二中体罚学生 {n}")
        await trio.sleep(15 * 60)
        incidents = daemon.store.incidents()
        assert [(i.group_key, i.level) for i in incidents] == [("六处学校", 2)]
