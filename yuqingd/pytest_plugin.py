"""pytest fixtures for plugin authors (registered through the ``pytest11`` entry point).

    from yuqingd.testing import running_daemon

    async def test_my_notifier(yuqingd_harness, tmp_path, autojump_clock):
        config = write_my_config(tmp_path)  # sources: kind scripted; notifiers: your kind
        async with running_daemon(config, yuqingd_harness, MyPlugin()) as daemon:
            yuqingd_harness.post("1", "六处学校老师体罚学生")
            ...
"""

from __future__ import annotations

import pytest

from yuqingd.testing import Harness


@pytest.fixture
def yuqingd_harness() -> Harness:
    """Scripted source ``scripted`` and capturing notifier ``capture`` for a test daemon."""
    return Harness()
