"""The daemon's optional HTTP endpoint: the `http:` config section and the listener."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from yuqingd.config import load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.testing import Harness, running_daemon, write_config


def _load(path: Path):
    return load_config(path, Plugins(get_plugin_manager(extra=[Harness()])))


def test_http_off_unless_configured(tmp_path, short_dir):
    """Without an `http:` section the daemon listens on no port."""
    assert _load(write_config(tmp_path, short_dir)).file.http is None


def test_http_listen_defaults(tmp_path, short_dir):
    """A bare port listens on 127.0.0.1; links live 24 hours; the URL people open follows
    `external_url` when set (behind a reverse proxy)."""
    http = _load(write_config(tmp_path, short_dir, http={"listen": 8470})).file.http
    assert http is not None
    assert (http.host, http.port, http.link_lifetime) == ("127.0.0.1", 8470, 86400.0)
    assert http.base_url == "http://127.0.0.1:8470"
    proxied = _load(write_config(tmp_path, short_dir, http={
        "listen": "0.0.0.0:9000", "external_url": "https://yq.example.edu.cn/",
        "link_lifetime": "2h",
    })).file.http
    assert proxied is not None
    assert (proxied.host, proxied.port, proxied.link_lifetime) == ("0.0.0.0", 9000, 7200.0)
    assert proxied.base_url == "https://yq.example.edu.cn"


def test_http_config_errors_name_file_and_line(tmp_path, short_dir):
    """A bad listen address, a non-HTTP external_url and a misspelt key are each reported at
    their file:line."""
    path = write_config(tmp_path, short_dir, http={
        "listen": "localhost:http", "external_url": "yq.example", "link_lifetim": "1h"})
    with pytest.raises(ConfigError) as caught:
        _load(path)
    text = str(caught.value)
    lines = path.read_text(encoding="utf-8").splitlines()
    for needle, message in [("listen:", "监听地址"), ("external_url:", "http://"),
                            ("link_lifetim:", "link_lifetim")]:
        line = next(i for i, s in enumerate(lines, 1) if s.strip().startswith(needle))
        assert any(e.startswith(f"{path}:{line}:") and message in e for e in text.splitlines()), (
            needle, text)


async def test_http_listener_serves_until_stopped(tmp_path, short_dir):
    """With `http:` configured the daemon answers HTTP on 127.0.0.1 once started, and the port
    is closed after the daemon stops."""
    path = write_config(tmp_path, short_dir, http={"listen": "127.0.0.1:0"})
    async with running_daemon(path, Harness()) as daemon:
        (url,) = daemon.http_server.bound
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"{url}/healthz", timeout=10)
        assert reply.json() == {"ok": True}
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/healthz", timeout=10)


async def test_http_metrics_report_open_incidents_and_outbox(tmp_path, short_dir, mock_clock):
    """/metrics (Prometheus text) counts open incidents by severity, the outbox and sources."""
    from .test_http_links import opened

    path = write_config(tmp_path, short_dir, http={"listen": "127.0.0.1:0"})
    harness = Harness()
    async with running_daemon(path, harness) as daemon, httpx.AsyncClient() as client:
        await opened(harness, daemon)
        reply = await client.get(f"{daemon.http_server.bound[0]}/metrics")
    assert reply.status_code == 200
    lines = reply.text.splitlines()
    assert 'yuqingd_incidents_open{severity="较大"} 1.0' in lines
    assert "yuqingd_outbox_depth 0.0" in lines
    assert 'yuqingd_source_healthy{source="forum"} 1.0' in lines
