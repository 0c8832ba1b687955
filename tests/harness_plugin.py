"""The test Harness's plugin kinds (``scripted`` source, ``capture`` notifier) as a module, for
CLI code that builds its own plugin manager: name it in ``$YUQINGD_PLUGINS``."""

from __future__ import annotations

from yuqingd.testing import Harness

_harness = Harness()
yuqingd_source_kinds = _harness.yuqingd_source_kinds
yuqingd_notifier_kinds = _harness.yuqingd_notifier_kinds
