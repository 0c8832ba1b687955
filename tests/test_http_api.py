"""The HTTP API: bearer tokens per person or integration, the control socket's commands."""

from __future__ import annotations

import sqlite3
import sys

import httpx
import pytest
import structlog
import trio

from yuqingd import commands
from yuqingd.config import DATABASE_NAME, state_dir_path
from yuqingd.testing import Harness, running_daemon, write_config
from yuqingd.web.api import ROUTES
from yuqingd.web.limiter import MAX_FAILURES, WINDOW

from .test_http_links import local, opened


@pytest.fixture
def config(tmp_path, short_dir):
    return write_config(tmp_path, short_dir, http={"listen": "127.0.0.1:0"})


async def new_token(daemon, name: str, person: str | None = None) -> str:
    reply = await daemon.handle({"command": "token.add", "name": name, "person": person})
    assert reply["ok"], reply
    return reply["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def transitions(daemon, incident: str) -> list[dict]:
    return (await daemon.handle({"command": "incident", "incident": incident}))["transitions"]


async def test_api_without_a_valid_token_is_401(config, mock_clock):
    """No token, another scheme, or a made-up token: 401 with a Chinese-first JSON error, and
    nothing is done."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        await new_token(daemon, "duty-app", "张明")
        base = daemon.http_server.bound[0]
        for headers in ({}, {"Authorization": "Basic eDp5"}, bearer("yq_made-up"),
                        {"Authorization": "Bearer"}):
            reply = await client.post(f"{base}/api/incidents/{note.incident}/ack",
                                      headers=headers, json={})
            assert reply.status_code == 401, headers
            assert reply.json()["ok"] is False
            assert reply.json()["error"].startswith("未授权")
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        listing = await client.get(f"{base}/api/incidents")
        assert listing.status_code == 401
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert record["incident"]["status"] == "open"


async def test_api_revoked_token_is_401_at_once(config, mock_clock):
    """A token works until it is revoked; its next request gets 401."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        await opened(harness, daemon)
        token = await new_token(daemon, "oa-system")
        url = f"{daemon.http_server.bound[0]}/api/incidents"
        assert (await client.get(url, headers=bearer(token))).status_code == 200
        (row,) = (await daemon.handle({"command": "token.list"}))["tokens"]
        assert row["name"] == "oa-system" and row["last_used_at"]
        assert "digest" not in row and "token" not in row
        assert (await daemon.handle({"command": "token.revoke", "id": str(row["id"])}))["ok"]
        reply = await client.get(url, headers=bearer(token))
        assert reply.status_code == 401 and reply.json()["error"].startswith("未授权")


async def test_api_failed_attempts_are_rate_limited_per_client(config, mock_clock):
    """After MAX_FAILURES bad tokens the address gets 429 with Retry-After — even with a good
    token — until the window has passed."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        good = await new_token(daemon, "oa-system")
        url = f"{daemon.http_server.bound[0]}/api/incidents"
        for n in range(MAX_FAILURES):
            assert (await client.get(url, headers=bearer(f"yq_guess{n}"))).status_code == 401
        refused = await client.get(url, headers=bearer("yq_guess"))
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) == WINDOW
        assert refused.json()["error"].startswith("尝试失败次数过多")
        assert (await client.get(url, headers=bearer(good))).status_code == 429
        mock_clock.jump(WINDOW / 2)
        later = await client.get(url, headers=bearer(good))
        assert later.status_code == 429 and int(later.headers["Retry-After"]) == WINDOW / 2
        mock_clock.jump(WINDOW / 2)
        assert (await client.get(url, headers=bearer(good))).status_code == 200


async def test_forged_links_count_against_the_same_limit(config, mock_clock):
    """Forged link attempts (403) are failures too: past the limit the page answers 429, and
    so does the API for that address."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        good = await new_token(daemon, "oa-system")
        base = daemon.http_server.bound[0]
        for n in range(MAX_FAILURES):
            assert (await client.get(f"{base}/l/forged{n}.sig")).status_code == 403
        page = await client.get(local(note.actions[0].url, daemon))
        assert page.status_code == 429 and "尝试次数过多" in page.text
        assert int(page.headers["Retry-After"]) == WINDOW
        api = await client.get(f"{base}/api/incidents", headers=bearer(good))
        assert api.status_code == 429


async def test_api_actions_act_once_as_the_token_person(config, mock_clock):
    """ack, report, close and silence run the control socket's commands once each, recorded
    as the token's person via the token (a `by` in the body is ignored)."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        auth = bearer(await new_token(daemon, "duty-app", "张明"))
        base = f"{daemon.http_server.bound[0]}/api"
        incident = f"{base}/incidents/{note.incident}"

        listed = await client.get(f"{base}/incidents", headers=auth)
        assert [i["id"] for i in listed.json()["incidents"]] == [note.incident]
        shown = await client.get(incident, headers=auth)
        assert shown.status_code == 200 and shown.json()["incident"]["status"] == "open"
        missing = await client.get(f"{base}/incidents/20990101-001", headers=auth)
        assert missing.status_code == 404 and "没有编号为" in missing.json()["error"]

        acked = await client.post(f"{incident}/ack", headers=auth,
                                  json={"note": "已联系学校", "by": "冒充者"})
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
        again = await client.post(f"{incident}/ack", headers=auth, json={})
        assert again.status_code == 409 and again.json()["ok"] is False
        reported = await client.post(f"{incident}/report", headers=auth,
                                     json={"stage": "first", "note": "已向宣传部首报"})
        assert reported.status_code == 200, reported.text
        bad_stage = await client.post(f"{incident}/report", headers=auth,
                                      json={"stage": "second"})
        assert bad_stage.status_code == 400
        closed = await client.post(f"{incident}/close", headers=auth, json={"note": "已处置"})
        assert closed.status_code == 200

        done = [t for t in await transitions(daemon, note.incident)
                if t["action"] in ("acknowledged", "report.first", "closed")]
        assert [t["action"] for t in done] == ["acknowledged", "report.first", "closed"]
        assert {t["by"] for t in done} == {"张明"}
        assert {t["fields"]["via"] for t in done} == {"api token duty-app"}

        with structlog.testing.capture_logs() as logs:
            added = await client.post(f"{base}/silences", headers=auth, json={
                "rule": "negative-burst", "for": "2h", "reason": "已知，处置中"})
            assert added.status_code == 200, added.text
            listed = await client.get(f"{base}/silences", headers=auth)
            (silence,) = listed.json()["silences"]
            assert silence["by"] == "张明"
            removed = await client.delete(f"{base}/silences/{silence['silence']}",
                                          headers=auth)
            assert removed.status_code == 200
            gone = await client.delete(f"{base}/silences/{silence['silence']}", headers=auth)
            assert gone.status_code == 409
        kept = [e for e in logs if e.get("action") in ("silence.added", "silence.removed")]
        assert [(e["action"], e["by"], e["via"]) for e in kept] == [
            ("silence.added", "张明", "api token duty-app"),
            ("silence.removed", "张明", "api token duty-app")]


async def test_api_bodies_are_capped_and_must_be_json(config, mock_clock):
    """A body over 16 KiB gets 413 and one that is not a JSON object 400; neither acts."""
    harness = Harness()
    async with running_daemon(config, harness) as daemon, httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        auth = bearer(await new_token(daemon, "oa-system"))
        url = f"{daemon.http_server.bound[0]}/api/incidents/{note.incident}/ack"
        big = await client.post(url, headers=auth, content=b'{"note": "' + b"x" * 20000 + b'"}')
        assert big.status_code == 413
        for body in (b"not json", b"[1, 2]"):
            assert (await client.post(url, headers=auth, content=body)).status_code == 400
        record = await daemon.handle({"command": "incident", "incident": note.incident})
        assert record["incident"]["status"] == "open"


async def test_api_openapi_lists_every_route(config, mock_clock):
    """/api/openapi.json (no token needed) has every API route with its method, each naming a
    command handler of the control socket."""
    async with running_daemon(config, Harness()) as daemon, httpx.AsyncClient() as client:
        reply = await client.get(f"{daemon.http_server.bound[0]}/api/openapi.json")
        served = [(r.path, m.lower()) for r in daemon.http_server.app.routes
                  if r.path.startswith("/api/") and r.path != "/api/openapi.json"
                  for m in (r.methods or ()) if m != "HEAD"]
    assert reply.status_code == 200
    doc = reply.json()
    assert doc["openapi"].startswith("3.")
    listed = [(path, method) for path, ops in doc["paths"].items() for method in ops]
    assert sorted(listed) == sorted(served) and len(listed) == len(ROUTES)
    commands.load()
    for path, method in listed:
        operation = doc["paths"][path][method]
        assert operation["operationId"] in commands.HANDLERS
        assert {"200", "401", "429"} <= set(operation["responses"])
    report = doc["paths"]["/api/incidents/{incident}/report"]["post"]
    body = report["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["stage"]["enum"] == ["first", "follow_up", "final"]
    assert body["required"] == ["stage"]


async def test_token_cli_works_with_the_daemon_stopped_and_running(config, mock_clock):
    """`yuqingd token add` prints the token once and keeps only its hash; with the daemon
    running, `token list` and `token revoke` go through its control socket."""
    async def cli(*args: str):
        return await trio.run_process([sys.executable, "-m", "yuqingd", "token", *args,
                                       "--config", str(config)],
                                      capture_stdout=True, capture_stderr=True, check=False)

    made = await cli("add", "oa-system", "--person", "王芳")
    assert made.returncode == 0, made.stderr
    token = made.stdout.decode().strip()
    assert token.startswith("yq_") and "请立即保存" in made.stderr.decode()
    assert (await cli("add", "oa-system")).returncode == 1  # one live token per name
    database = state_dir_path(config) / DATABASE_NAME
    with sqlite3.connect(database) as db:
        kept = db.execute("SELECT digest FROM api_tokens").fetchall()
    assert len(kept) == 1 and token not in database.read_bytes().decode("latin-1")

    async with running_daemon(config, Harness()) as daemon, httpx.AsyncClient() as client:
        url = f"{daemon.http_server.bound[0]}/api/incidents"
        assert (await client.get(url, headers=bearer(token))).status_code == 200
        listed = await cli("list")
        assert listed.returncode == 0, listed.stderr
        assert "oa-system\t王芳" in listed.stdout.decode()
        revoked = await cli("revoke", "oa-system")
        assert revoked.returncode == 0, revoked.stderr
        assert "已吊销" in revoked.stdout.decode()
        assert (await client.get(url, headers=bearer(token))).status_code == 401
    everything = await cli("list", "--all")
    assert everything.returncode == 0 and "oa-system" in everything.stdout.decode()
    assert "没有有效的令牌" in (await cli("list")).stdout.decode()
