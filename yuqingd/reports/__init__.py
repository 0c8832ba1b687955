"""Reports rendered from the store: pure functions of the store and a period, in Chinese, as
Markdown and HTML (the weekly briefing, 信息周报, lives in :mod:`yuqingd.reports.weekly`);
``labels.py`` holds every Chinese label once. Nothing here sends, schedules or imports
:mod:`yuqingd.runtime` (making, keeping and sending reports on time is
:mod:`yuqingd.runtime.reports`)."""
