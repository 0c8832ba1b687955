"""The console notifier (the demo's channel) prints each notification id once, across crashes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
from yuqingd_console import ConsoleNotifier, ConsoleOptions

from yuqingd.model import Notification
from yuqingd.notifiers import NotifierContext, NotifierSpec
from yuqingd.time.clock import Clock


def notification(n: int) -> Notification:
    return Notification(id=f"n-{n}", kind="incident.opened", channel="console", incident="I1",
                        rule="negative-burst", title="涉校负面信息集中出现", severity="较大",
                        level=1, to=(), at="2026-05-10T10:00:00+08:00", text=f"告警 {n}")


async def started(state_dir: Path | None) -> ConsoleNotifier:
    notifier = ConsoleNotifier(NotifierSpec("console", "console", ConsoleOptions(), Path(".")))
    async with httpx.AsyncClient() as http:
        await notifier.start(NotifierContext("console", http=http, clock=Clock(),
                                             state_dir=state_dir))
    return notifier


async def test_console_does_not_print_again_what_it_printed_before_a_crash(tmp_path, capsys):
    """A notification sent again after a restart (the core had not recorded the delivery) is
    not printed again; new ones are; the memory file is 0600."""
    first = await started(tmp_path)
    await first.send(notification(1))
    await first.send(notification(2))
    after_crash = await started(tmp_path)  # a new process: only the file remembers
    await after_crash.send(notification(2))
    await after_crash.send(notification(3))
    await after_crash.send(notification(3))
    out = capsys.readouterr().out
    assert [out.count(f"告警 {n}") for n in (1, 2, 3)] == [1, 1, 1]
    memory = tmp_path / "console-console.printed"
    assert memory.read_text().split() == ["n-1", "n-2", "n-3"]
    assert stat.S_IMODE(os.stat(memory).st_mode) == 0o600


async def test_console_without_a_state_folder_still_prints(capsys):
    """Tests and simulations give no state folder: the notifier prints, remembering in memory."""
    notifier = await started(None)
    await notifier.send(notification(1))
    await notifier.send(notification(1))
    assert capsys.readouterr().out.count("告警 1") == 1


async def test_console_prints_the_acknowledge_link_of_each_person(capsys):
    """With the HTTP endpoint on, the alert is followed by each person's acknowledge link."""
    from dataclasses import replace

    from yuqingd.model import Action

    notifier = await started(None)
    await notifier.send(replace(notification(1), actions=(
        Action("ack", "确认", "yuqingd ack I1 --by 张明", url="http://127.0.0.1:8470/l/x.y",
               person="张明"),)))
    assert "确认（张明）：http://127.0.0.1:8470/l/x.y" in capsys.readouterr().out
