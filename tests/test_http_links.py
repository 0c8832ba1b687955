"""Signed action links: a link sent to a person opens the incident's page and acts as them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
import trio
import trio.lowlevel
import trio.testing

from yuqingd.testing import Harness, running_daemon, write_config


async def settle(harness: Harness, count: int = 1) -> None:
    """Let the daemon run until ``count`` notifications were delivered (no time passes)."""
    for _ in range(200):
        await trio.testing.wait_all_tasks_blocked()
        if len(harness.sent) >= count:
            return
        await trio.lowlevel.checkpoint()
    raise AssertionError(f"only {len(harness.sent)} notifications delivered")


async def opened(harness: Harness, daemon):
    for n in range(3):
        harness.post(f"t{n}", f"六处学校教师体罚学生{n}", "家长反映")
    await settle(harness)
    (note,) = harness.sent
    return note


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


@pytest.fixture
def config(tmp_path, short_dir):
    return write_config(tmp_path, short_dir, http={"listen": "127.0.0.1:0",
                                                   "external_url": "https://yq.example.cn"})


def local(url: str, daemon) -> str:
    """The link as the reverse proxy would forward it to the daemon."""
    return daemon.http_server.bound[0] + urlsplit(url).path


async def test_link_made_per_person_behind_external_url(config, mock_clock):
    """Each recipient's acknowledge action carries their own link under `external_url`."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon:
        note = await opened(harness, daemon)
        (ack,) = [a for a in note.actions if a.name == "ack"]
        assert ack.person == "张明"
        assert ack.url.startswith("https://yq.example.cn/l/")


async def test_link_ack_acts_as_the_person_via_link(config, mock_clock):
    """Opening the link shows the incident; 确认 acknowledges it as the link's person, and the
    audit says it came via a link through the channel; a replay does not act twice."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        url = local(note.actions[0].url, daemon)
        page = await client.get(url)
        assert page.status_code == 200
        assert "涉校负面信息集中出现" in page.text and "确认" in page.text
        done = await client.post(url, data={"csrf": csrf_of(page.text), "do": "ack",
                                            "note": "已联系学校"})
        assert done.status_code == 200 and "已确认，升级已停止" in done.text
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert record["incident"]["status"] == "acknowledged"
        (ack,) = [t for t in record["transitions"] if t["action"] == "acknowledged"]
        assert ack["by"] == "张明"
        assert ack["fields"]["via"] == "link (duty-phone)"
        again = await client.post(url, data={"csrf": csrf_of(page.text), "do": "ack"})
        assert again.status_code == 200 and "无需重复操作" in again.text
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert [t["action"] for t in record["transitions"]].count("acknowledged") == 1


async def test_link_tampered_is_refused(config, mock_clock):
    """A link altered anywhere — or one claiming another person — gets 403 and a Chinese page;
    nothing is acknowledged."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        url = local(note.actions[0].url, daemon)
        body, sig = url.rsplit("/", 1)[1].split(".")
        links = daemon.http_server.links
        other = links.check(f"{body}.{sig}", daemon.clock.time())
        forged_body = links.token(type(other)("李华", other.incident, other.action,
                                              other.channel, other.expires)).split(".")[0]
        base = url.rsplit("/", 1)[0]
        for token in (f"{body}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
                      f"{forged_body}.{sig}", "nonsense", f"{body}."):
            reply = await client.get(f"{base}/{token}")
            assert reply.status_code == 403, token
            assert "链接无效" in reply.text
            posted = await client.post(f"{base}/{token}", data={"do": "ack", "csrf": "x"})
            assert posted.status_code == 403
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert record["incident"]["status"] == "open"


async def test_link_expires_after_its_lifetime(config, mock_clock):
    """A link opened after 24 hours gets 410 and a Chinese page, and cannot act."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        url = local(note.actions[0].url, daemon)
        page = await client.get(url)
        mock_clock.jump(24 * 3600 - 1)
        assert (await client.get(url)).status_code == 200
        mock_clock.jump(1)
        reply = await client.get(url)
        assert reply.status_code == 410 and "链接已过期" in reply.text
        posted = await client.post(url, data={"csrf": csrf_of(page.text), "do": "ack"})
        assert posted.status_code == 410
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert not [t for t in record["transitions"] if t["action"] == "acknowledged"]


async def test_link_post_needs_the_page_csrf_field(config, mock_clock):
    """A POST without the form's CSRF field (another site's form) is refused with 403."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        url = local(note.actions[0].url, daemon)
        reply = await client.post(url, data={"do": "ack"})
        assert reply.status_code == 403 and "表单已失效" in reply.text
        big = await client.post(url, content=b"x" * 20000)
        assert big.status_code == 413
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert record["incident"]["status"] == "open"


def test_link_key_created_private_once(tmp_path):
    """The signing key is created 0600 in the state directory on first use and kept."""
    from yuqingd.web.links import KEY_FILE, load_key

    first = load_key(tmp_path / "state")
    assert (tmp_path / "state" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert load_key(tmp_path / "state") == first and len(first) == 64
