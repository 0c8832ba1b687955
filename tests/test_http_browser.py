"""The acknowledge page in a real browser: headless Chromium (Debian's) clicks 确认."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio

from yuqingd.testing import Harness, running_daemon, write_config

from .test_http_links import opened

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)


def _click_ack(url: str, screenshot: Path) -> str:
    """Open ``url`` on a phone-sized page, write a note, click 确认; the page text after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            page.goto(url)
            page.fill("textarea[name=note]", "已电话联系校长")
            page.get_by_role("button", name="确认", exact=True).click()
            page.get_by_role("status").wait_for()
            page.screenshot(path=str(screenshot), full_page=True)
            return page.inner_text("body")
        finally:
            browser.close()


async def test_browser_clicks_ack_on_delivered_link(tmp_path, short_dir, mock_clock):
    """The link in a delivered message opens in Chromium; clicking 确认 acknowledges the
    incident as the person it was sent to (screenshot: ack-page.png in the test's tmp dir)."""
    if not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: packaging/dev/bootstrap.sh test installs it")
        pytest.skip("chromium not installed (packaging/dev/bootstrap.sh test)")
    config = write_config(tmp_path, short_dir, http={"listen": "127.0.0.1:0"})
    harness = Harness()
    async with running_daemon(config, harness) as daemon:
        note = await opened(harness, daemon)
        (ack,) = [a for a in note.actions if a.name == "ack"]
        assert urlsplit(ack.url).netloc == urlsplit(daemon.http_server.bound[0]).netloc
        shot = tmp_path / "ack-page.png"
        text = await trio.to_thread.run_sync(_click_ack, ack.url, shot)
        assert "已确认，升级已停止" in text
        assert shot.stat().st_size > 10_000
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert record["incident"]["status"] == "acknowledged"
        (acked,) = [t for t in record["transitions"] if t["action"] == "acknowledged"]
        assert (acked["by"], acked["fields"]["note"]) == ("张明", "已电话联系校长")
