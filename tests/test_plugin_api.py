"""The plugin kit: the guide covers the API, the API version is enforced, the contexts work.

The guide check follows datasette's ``test_plugin_hooks_are_documented``: adding a hook, a public
name or a field of a public model without describing it in docs/plugins.md fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import subprocess
import sys
import textwrap

import httpx
import pytest
import trio
from pydantic import BaseModel

from yuqingd import hookspecs, plugin_api
from yuqingd.config import load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.testing import Harness, running_daemon

from .conftest import REPO

GUIDE = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")

# Public models whose every field the guide must name in the model's own section.
MODELS = [plugin_api.Item, plugin_api.Notification, plugin_api.Recipient, plugin_api.SourceSpec,
          plugin_api.SourceKind, plugin_api.NotifierSpec, plugin_api.NotifierKind,
          plugin_api.Enricher, plugin_api.Score, plugin_api.Enrichment, plugin_api.EntityHit,
          plugin_api.NotifiedItem, plugin_api.Due, plugin_api.Action]
CONTEXTS = [plugin_api.SourceContext, plugin_api.NotifierContext]


def sections(text: str) -> dict[str, str]:
    """Heading → its text up to the next heading of the same or a higher level."""
    heads = list(re.finditer(r"^(#+) (.+)$", text, flags=re.M))
    out = {}
    for n, head in enumerate(heads):
        level = len(head.group(1))
        end = next((h.start() for h in heads[n + 1:] if len(h.group(1)) <= level), len(text))
        out[head.group(2)] = text[head.end():end]
    return out


def section_of(name: str) -> str:
    found = [body for title, body in sections(GUIDE).items() if f"`{name}`" in title]
    assert found, f"docs/plugins.md has no section titled with `{name}`"
    return "\n".join(found)


def public_members(cls: type) -> set[str]:
    """What a plugin reads or calls on a context: its public attributes and methods."""
    init = inspect.getsource(cls.__init__)
    attributes = set(re.findall(r"self\.([a-z]\w*)\s*(?::[^=]+)?=", init))
    methods = {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}
    return attributes | methods


def test_guide_documents_every_hook():
    """Each hookspec has a section in the guide that says when, order, arguments and None."""
    specs = [n for n, _ in inspect.getmembers(hookspecs, inspect.isfunction)
             if n.startswith("yuqingd_")]
    assert specs
    for name in specs:
        body = section_of(name)
        for word in ("When", "None"):
            assert word in body or "as `yuqingd_" in body, f"{name}: no '{word}' in its section"


def test_guide_documents_every_public_name():
    """Every name yuqingd.plugin_api exports is named in the guide."""
    missing = [n for n in plugin_api.__all__ if f"`{n}`" not in GUIDE]
    assert missing == [], f"add these to docs/plugins.md: {missing}"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_guide_documents_every_field_of_public_models(model):
    """Each field of a public model is named in that model's section of the guide (a field
    added to Item or Notification must be described there, with its unit)."""
    body = section_of(model.__name__)
    missing = [f.name for f in dataclasses.fields(model) if f"`{f.name}`" not in body]
    assert missing == [], f"{model.__name__}: describe {missing} in docs/plugins.md"


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: c.__name__)
def test_guide_documents_every_member_of_the_contexts(context):
    body = section_of(context.__name__)
    members = public_members(context)
    assert {"http", "clock", "log", "set_health"} <= members
    missing = sorted(m for m in members if f"`{m}" not in body)
    assert missing == [], f"{context.__name__}: describe {missing} in docs/plugins.md"


def test_guide_check_finds_an_undocumented_field():
    """The field check can fail: a model with a field the guide does not name is caught."""

    @dataclasses.dataclass
    class Item:  # shadows the real one's section
        source: str
        fetched_by_carrier_pigeon: str

    body = section_of(Item.__name__)
    assert [f.name for f in dataclasses.fields(Item) if f"`{f.name}`" not in body] == [
        "fetched_by_carrier_pigeon"]


def test_plugin_api_version_is_semver_and_the_public_names_import():
    major, minor = (int(p) for p in plugin_api.API_VERSION.split("."))
    assert major == plugin_api.API_MAJOR >= 1 and minor >= 0
    for name in plugin_api.__all__:
        assert getattr(plugin_api, name) is not None


# -- the API version -----------------------------------------------------------------------------

PLUGIN_MODULE = '''\
from pydantic import BaseModel
from yuqingd.plugin_api import STRICT, SourceKind, hookimpl

YUQINGD_API = {api}


class Options(BaseModel):
    model_config = STRICT


@hookimpl
def yuqingd_source_kinds():
    return [SourceKind("futuristic", Options, lambda spec: None)]
'''

CONFIG = """\
state_dir: state
sources:
  - {name: news, kind: futuristic}
"""


def write_plugin(tmp_path, name: str, api: str):
    (tmp_path / f"{name}.py").write_text(PLUGIN_MODULE.format(api=api), encoding="utf-8")
    (tmp_path / "yuqingd.yaml").write_text(CONFIG, encoding="utf-8")


@pytest.mark.parametrize("api, loaded", [("1", True), ("2", False), ("'1.0'", False),
                                         ("None", True)])
def test_plugin_declaring_another_api_major_is_not_loaded(tmp_path, monkeypatch, api, loaded):
    """YUQINGD_API = 1 loads; 2 (or a string) is refused with a reason; no declaration loads."""
    name = f"plugin_api_{abs(hash(api))}"
    write_plugin(tmp_path, name, api)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("YUQINGD_PLUGINS", name)
    plugins = Plugins(get_plugin_manager(load_entrypoints=False))
    assert ("futuristic" in plugins.source_kinds()) is loaded
    assert (name in plugins.refused) is not loaded
    if not loaded:
        with pytest.raises(ConfigError) as caught:
            load_config(tmp_path / "yuqingd.yaml", plugins)
        text = str(caught.value.errors[0])
        assert "未知类型 'futuristic'" in text and f"插件 '{name}'" in text
        assert "未加载" in text


def test_cli_refuses_a_plugin_for_another_api_major_in_chinese(tmp_path):
    """`yuqingd check` says, Chinese first, which plugin was refused and why; exit 78."""
    write_plugin(tmp_path, "old_major_plugin", "2")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQINGD_", "LANG", "LC_"))}
    env |= {"PYTHONPATH": str(tmp_path), "YUQINGD_PLUGINS": "old_major_plugin"}
    result = subprocess.run(
        [sys.executable, "-m", "yuqingd", "check", "--config", str(tmp_path / "yuqingd.yaml")],
        capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 78
    assert ("yuqingd: 插件 'old_major_plugin' 是为插件接口 2.x 编写的，本 yuqingd 提供的是 "
            f"{plugin_api.API_VERSION}") in result.stderr
    english = subprocess.run(
        [sys.executable, "-m", "yuqingd", "--lang", "en", "plugins"],
        capture_output=True, text=True, env=env, timeout=60)
    assert "plugin 'old_major_plugin' targets plugin API 2" in english.stderr


# -- the stall budget ------------------------------------------------------------------------------

SLOW_POLLS = """\
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
sources:
  - {{name: hourly, kind: %s}}
notifiers:
  - {{name: duty-phone, kind: capture}}
roles:
  值班员: {{person: 张明, channels: [duty-phone]}}
  办公室主任: {{person: 李华, channels: [duty-phone]}}
  组长: {{person: 王强, channels: [duty-phone]}}
supervisor: {{stall_after: 30m}}
"""


class IntervalOptions(BaseModel):
    model_config = plugin_api.STRICT
    interval: plugin_api.PositiveDuration = 3600.0


class NoOptions(BaseModel):
    model_config = plugin_api.STRICT


class SlowPollers:
    """Sources polling every hour (longer than stall_after: 30m), in the three ways the guide
    allows, and one that heartbeats per poll but says nothing (it must still be restarted)."""

    def __init__(self):
        self.starts = 0
        self.budgets: list[float] = []

    @plugin_api.hookimpl
    def yuqingd_source_kinds(self):
        return [
            plugin_api.SourceKind("by-interval", IntervalOptions, lambda s: Poller(self, "plain")),
            plugin_api.SourceKind("by-sleep", NoOptions, lambda s: Poller(self, "ctx.sleep")),
            plugin_api.SourceKind("by-declaration", NoOptions,
                                  lambda s: Poller(self, "plain", stall_budget=4000)),
            plugin_api.SourceKind("silent", NoOptions, lambda s: Poller(self, "plain")),
        ]


class Poller:
    def __init__(self, owner, how, stall_budget=None):
        self.owner, self.how = owner, how
        if stall_budget is not None:
            self.stall_budget = stall_budget

    async def run(self, ctx):
        self.owner.starts += 1
        self.owner.budgets.append(ctx.stall_budget)
        while True:
            if self.how == "ctx.sleep":
                await ctx.sleep(3600)
            else:
                ctx.heartbeat()
                await trio.sleep(3600)


@pytest.mark.parametrize("kind, budget", [("by-interval", 1800 + 3600), ("by-sleep", 1800),
                                          ("by-declaration", 4000)])
async def test_source_polling_slower_than_stall_after_is_not_killed(
        make_config, autojump_clock, kind, budget):
    """An hourly source with stall_after 30m runs a day without a restart when its budget comes
    from its interval option, from ctx.sleep, or from its own declaration; it is told it."""
    pollers = SlowPollers()
    async with running_daemon(make_config(SLOW_POLLS % kind), Harness(), pollers) as daemon:
        await trio.sleep(24 * 3600 + 60)
        assert pollers.starts == 1 and pollers.budgets == [budget]
        health = daemon._sources.health["hourly"]
        assert health.healthy and health.last_error is None
        if kind == "by-sleep":  # the announced quiet time is the next poll
            assert health.next_poll_at is not None
            assert 0 < health.next_poll_at - daemon.clock.time() <= 3600


async def test_source_heartbeating_slower_than_its_budget_is_still_restarted(make_config,
                                                                             autojump_clock):
    """Without an interval, a declaration or ctx.sleep, the 30m budget holds: restarted."""
    pollers = SlowPollers()
    async with running_daemon(make_config(SLOW_POLLS % "silent"), Harness(), pollers) as daemon:
        await trio.sleep(1800 + 2 + 1)
        assert pollers.starts == 2
        assert "stalled: no item or heartbeat for 1800s" in daemon._sources.health[
            "hourly"].last_error


# -- the notifier context ------------------------------------------------------------------------

class SigningOptions(BaseModel):
    model_config = plugin_api.STRICT
    url: str


class SigningNotifier:
    """Signs each message with the context's clock and posts it with the shared client."""

    def __init__(self, spec, calls):
        self.url = spec.options.url
        self.calls = calls

    async def start(self, ctx: plugin_api.NotifierContext) -> None:
        self.ctx = ctx
        self.calls.append(("start", ctx.clock.time()))

    async def send(self, notification: plugin_api.Notification) -> None:
        stamp = int(self.ctx.clock.time())
        response = await self.ctx.http.post(
            self.url, json={"id": notification.id, "text": notification.text},
            headers={"X-Timestamp": str(stamp), "Idempotency-Key": notification.id})
        response.raise_for_status()
        self.calls.append(("send", stamp))

    async def close(self) -> None:
        self.calls.append(("close", self.ctx.clock.time()))


class SigningPlugin:
    def __init__(self):
        self.calls: list[tuple[str, float]] = []

    @plugin_api.hookimpl
    def yuqingd_notifier_kinds(self):
        return [plugin_api.NotifierKind("signing", SigningOptions,
                                        lambda spec: SigningNotifier(spec, self.calls))]


NOTIFY_CONFIG = """\
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
sources:
  - {{name: forum, kind: scripted}}
notifiers:
  - {{name: duty-phone, kind: signing, url: "https://hook.example/send"}}
roles:
  值班员: {{person: 张明, channels: [duty-phone]}}
  办公室主任: {{person: 李华, channels: [duty-phone]}}
  组长: {{person: 王强, channels: [duty-phone]}}
"""

START = 1_778_378_400.0  # 2026-05-10 10:00 +08:00


async def test_notifier_uses_the_context_clock_on_virtual_time(make_config, autojump_clock):
    """A notifier gets the shared HTTP client and the clock through start(ctx): its timestamps
    follow the daemon's (virtual) clock, and close() is called at shutdown."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200 if len(seen) > 1 else 503)  # the first attempt fails

    harness, plugin = Harness(), SigningPlugin()
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with http, running_daemon(make_config(NOTIFY_CONFIG), harness, plugin,
                                    start_epoch=START, http=http) as daemon:
        await trio.sleep(3600)  # an hour of virtual time before anything happens
        for n in range(3):
            harness.post(f"n{n}", f"六处学校体罚学生 {n}")
        await trio.sleep(0.01)
        await trio.sleep(2.5)  # the retry after the 503, 2 s later
        worker = daemon.delivery.workers["duty-phone"]
        assert worker.health.delivered == 1 and worker.health.state == "ok"
        assert "503 Service Unavailable" in worker.health.last_error  # kept as history
    assert plugin.calls[0] == ("start", START)
    assert plugin.calls[1][0] == "send" and plugin.calls[1][1] == int(START + 3600 + 2)
    assert plugin.calls[-1][0] == "close"
    assert [r.headers["X-Timestamp"] for r in seen] == [str(int(START + 3600)),
                                                         str(int(START + 3600 + 2))]
    assert seen[0].headers["Idempotency-Key"] == seen[1].headers["Idempotency-Key"]


class FailingStart(SigningNotifier):
    async def start(self, ctx):
        self.calls.append(("start", ctx.clock.time()))
        if len(self.calls) < 3:
            raise ConnectionError("token endpoint down")
        self.ctx = ctx


class FailingStartPlugin(SigningPlugin):
    @plugin_api.hookimpl
    def yuqingd_notifier_kinds(self):
        return [plugin_api.NotifierKind("signing", SigningOptions,
                                        lambda spec: FailingStart(spec, self.calls))]


async def test_notifier_start_failure_is_retried_with_backoff(make_config, autojump_clock):
    """A start() that raises is shown as the channel's error and retried after 2, 4 … s;
    notifications wait in the outbox and go out once it started."""
    harness, plugin = Harness(), FailingStartPlugin()
    sent = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200))
    http = httpx.AsyncClient(transport=transport)
    async with http, running_daemon(make_config(NOTIFY_CONFIG), harness, plugin,
                                    start_epoch=START, http=http) as daemon:
        worker = daemon.delivery.workers["duty-phone"]
        await trio.sleep(0.5)
        assert worker.health.state == "pending"
        assert worker.health.last_error == "start: ConnectionError: token endpoint down"
        for n in range(3):
            harness.post(f"n{n}", f"六处学校体罚学生 {n}")
        await trio.sleep(2 + 4 + 0.5)
        assert [c[0] for c in plugin.calls] == ["start", "start", "start", "send"]
        assert worker.health.state == "ok" and len(sent) == 1


def test_notifier_context_documents_its_lifecycle_in_the_protocol():
    doc = textwrap.dedent(plugin_api.Notifier.__doc__ or "")
    assert "start(self, ctx)" in doc and "close(self)" in doc


# -- health ----------------------------------------------------------------------------------------

HEALTH_CONFIG = """\
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
sources:
  - {{name: forum, kind: scripted}}
  - {{name: weibo, kind: moody}}
  - {{name: never, kind: mute}}
notifiers:
  - {{name: duty-phone, kind: capture}}
roles:
  值班员: {{person: 张明, channels: [duty-phone]}}
  办公室主任: {{person: 李华, channels: [duty-phone]}}
  组长: {{person: 王强, channels: [duty-phone]}}
"""


class MoodyPlugin:
    @plugin_api.hookimpl
    def yuqingd_source_kinds(self):
        return [plugin_api.SourceKind("moody", NoOptions, lambda spec: Moody()),
                plugin_api.SourceKind("mute", NoOptions, lambda spec: Mute())]


class Moody:
    async def run(self, ctx):
        await ctx.emit(plugin_api.Item(source=ctx.name, id="w1", title="天气不错"))
        ctx.set_health("degraded", "接口限流，已降低抓取频率")
        await ctx.sleep(600)


class Mute:
    async def run(self, ctx):
        await trio.sleep_forever()


async def test_status_and_sources_name_every_source_with_state_and_plugin_message(
        make_config, autojump_clock, monkeypatch):
    """`yuqingd status` has a line per source and notifier (a source that never reported is
    named too); `yuqingd sources` lists name, kind, state, last item, last error, next poll."""
    from yuqingd.health import health_line, sources_table

    monkeypatch.setenv("YUQINGD_LANG", "zh")
    plugins = (Harness(), MoodyPlugin())
    async with running_daemon(make_config(HEALTH_CONFIG), *plugins, start_epoch=START) as daemon:
        await trio.sleep(60)
        reply = await daemon.handle({"command": "status"})
    lines = [health_line(e) for e in reply["sources"]]
    lines += [health_line(e, notifier=True) for e in reply["notifiers"]]
    assert lines == [
        "信息源 forum（scripted）：正常",
        "信息源 weibo（moody）：降级；接口限流，已降低抓取频率；"
        "最近条目 2026-05-10T10:00:00+08:00；下次抓取 2026-05-10T10:10:00+08:00",
        "信息源 never（mute）：未报告",
        "通知渠道 duty-phone（capture）：正常",
    ]
    assert sources_table(reply["sources"]) == [
        "名称\t类型\t状态\t最近条目\t最近错误\t下次抓取",
        "forum\tscripted\t正常\t-\t-\t-",
        "weibo\tmoody\t降级：接口限流，已降低抓取频率\t2026-05-10T10:00:00+08:00\t-\t"
        "2026-05-10T10:10:00+08:00",
        "never\tmute\t未报告\t-\t-\t-",
    ]
    assert reply["status"].startswith("信息源 2/3 正常")
