"""pytest fixtures for plugin authors (registered through the ``pytest11`` entry point).

Installing yuqingd makes these fixtures available to every test, with no conftest::

    from yuqingd.testing import running_daemon

    async def test_my_notifier_gets_the_alert(make_config, yuqingd_harness, autojump_clock):
        config = make_config(notifiers=[{"name": "duty-phone", "kind": "my-kind"}])
        async with running_daemon(config, yuqingd_harness) as daemon:
            for n in range(3):  # the default rule: 3 negative items about a school within 1h
                yuqingd_harness.post(f"p{n}", "六处学校老师体罚学生")
            ...

A project's own fixture of the same name wins over these (pytest's usual override).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from yuqingd.testing import CONFIG, RULES, Harness, new_short_dir, write_config
from yuqingd.testing_http import LoopbackServer, MockHTTP


@pytest.fixture
def yuqingd_harness() -> Harness:
    """Scripted source ``scripted`` and capturing notifier ``capture`` for a test daemon."""
    return Harness()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short folder for Unix sockets (their paths are limited to 107 bytes)."""
    path = new_short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_config(tmp_path: Path, short_dir: Path) -> Callable[..., Path]:
    """Write a config and its rule file in ``tmp_path``; returns the config path. Takes the
    arguments of :func:`yuqingd.testing.write_config` after the two folders."""

    def make(config: str = CONFIG, rules: str = RULES, **changes: Any) -> Path:
        return write_config(tmp_path, short_dir, config, rules, **changes)

    return make


@pytest.fixture
def http_mock() -> MockHTTP:
    """Canned HTTP answers in-process (``httpx.MockTransport``): ``route(...)``, ``client``,
    ``requests``. Works on trio's virtual clock."""
    return MockHTTP()


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 with the same ``route(...)``; ``url(path)``,
    ``requests``. Real sockets take real time: not with ``autojump_clock``."""
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()
