"""The project's tests use the test tools yuqingd ships to plugin authors: ``short_dir``,
``make_config``, ``http_mock``, ``loopback_server`` and ``yuqingd_harness`` come from
:mod:`yuqingd.pytest_plugin` (the ``pytest11`` entry point), not from here."""

from __future__ import annotations

from pathlib import Path

from yuqingd.testing import CONFIG, RULES

REPO = Path(__file__).resolve().parent.parent

__all__ = ["CONFIG", "REPO", "RULES"]
