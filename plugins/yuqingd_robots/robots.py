"""DingTalk, WeCom and Feishu group robots: markdown cards posted to their webhooks.

Each answers HTTP 200 with an error code in the body. Codes that mean the configuration is wrong
(token, signing secret, webhook URL) raise :class:`~yuqingd.notifiers.DeliveryRejected` after
setting the channel's health to ``failing``; rate-limit codes raise
:class:`~yuqingd.notifiers.RetryAfter`; anything else is an ordinary failure, retried with
back-off. The robots keep no idempotency key: a crash between their answer and the outbox
commit can repeat one message, which is the documented at-least-once delivery.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from yuqingd.cards import Card, card
from yuqingd.cards.custom import CardOptions, ChannelTexts
from yuqingd.model import Notification
from yuqingd.notifiers import DeliveryRejected, NotifierContext, NotifierSpec, RetryAfter
from yuqingd.schema_types import STRICT
from yuqingd.secrets import Secret, SecretRef

from .signing import dingtalk_sign, feishu_sign

RATE_LIMIT_WAIT = 60.0  # the robots count messages per minute (DingTalk blocks longer)


class RobotOptions(CardOptions):  # lang, templates
    model_config = STRICT
    token: Secret  # DingTalk access_token, WeCom key, Feishu hook id: whoever has it can post
    secret: Secret | None = None  # the signing secret (DingTalk 加签, Feishu 签名校验)
    base_url: str = ""  # default: the service's public address


class Robot:
    service = ""
    default_base = ""
    config_errors: dict[int, str] = {}
    rate_limited: frozenset[int] = frozenset()
    code_field = "errcode"
    message_field = "errmsg"
    rate_per_minute = 20  # DingTalk's limit; the outbox sends a digest past it
    rate_limit_wait = RATE_LIMIT_WAIT  # how long the service blocks after a rate-limit code
    max_bytes = 20_000  # the markdown's size limit (UTF-8); a longer report is cut

    def __init__(self, spec: NotifierSpec):
        self.options: RobotOptions = spec.options
        self.base_dir: Path = spec.base_dir
        self.base = (self.options.base_url or self.default_base).rstrip("/")
        self.texts = ChannelTexts(self.options, self.base_dir)  # checked now, not at send
        self.ctx: NotifierContext | None = None
        self.http: httpx.AsyncClient | None = None

    async def start(self, ctx: NotifierContext) -> None:
        self.ctx = ctx
        self.http = ctx.http

    def _reveal(self, ref: SecretRef | None) -> str:
        return "" if ref is None else ref.reveal(self.base_dir)

    def card(self, notification: Notification) -> Card:
        """The notification as this channel's card, its times in the daemon's zone."""
        zone = self.ctx.clock.tz if self.ctx is not None else None
        return card(notification, lang=self.options.lang, zone=zone, texts=self.texts.get())

    def request(self, notification: Notification, now: float) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    async def send(self, notification: Notification) -> None:
        assert self.ctx is not None and self.http is not None
        url, body = self.request(notification, self.ctx.clock.time())
        response = await self.http.post(url, json=body, timeout=self.ctx.timeout)
        if response.status_code == 429:
            raise RetryAfter(_retry_after(response), f"{self.service}: HTTP 429")
        if response.status_code >= 400 and response.status_code not in (400, 401, 403, 404):
            response.raise_for_status()
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        code = answer.get(self.code_field) if isinstance(answer, dict) else None
        if response.status_code < 400 and code in (0, None):
            if self.ctx is not None:
                self.ctx.set_health("ok")
            return
        detail = answer.get(self.message_field, "") if isinstance(answer, dict) else ""
        if code in self.rate_limited:
            raise RetryAfter(self.rate_limit_wait, f"{self.service} 限流 {code}: {detail}")
        if code in self.config_errors or response.status_code in (400, 401, 403, 404):
            why = self.config_errors.get(code, f"HTTP {response.status_code}")  # type: ignore[arg-type]
            message = f"{self.service}机器人拒收（{code}）：{why}，请检查配置。{detail}"
            self.ctx.set_health("failing", message)
            raise DeliveryRejected(message)
        raise RuntimeError(f"{self.service} error {code}: {detail}")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", RATE_LIMIT_WAIT)))
    except ValueError:
        return RATE_LIMIT_WAIT


class DingTalk(Robot):
    service = "钉钉"
    default_base = "https://oapi.dingtalk.com"
    # https://open.dingtalk.com/document/robots/custom-robot-access (自定义机器人接入): "每个机器人
    # 每分钟最多发送20条消息到群里，如果超过20条，会限流10分钟" — 130101 "send too fast, exceed
    # 20 times per minute" (seen in ccfos/nightingale#369), so the wait is 10 minutes.
    # 310000 is every security-setting refusal: "sign not match", "invalid timestamp"
    # (jenkinsci/dingtalk-plugin#116: the server's clock), "keywords not in content", an IP
    # not in the list. 130102 was not found in the docs or issues searched; kept as a wait.
    rate_limit_wait = 600.0
    config_errors = {
        310000: "签名不匹配、时间戳无效（服务器时间不准）、关键词不符或 IP 不在白名单",
        300001: "access_token 无效",
        300005: "access_token 不存在",
        400013: "群已被解散",
        400101: "access_token 不存在",
        400102: "机器人已停用",
        400105: "不支持的消息类型",
        400106: "机器人不存在",
    }
    rate_limited = frozenset({130101, 130102})

    def request(self, notification: Notification, now: float) -> tuple[str, dict[str, Any]]:
        query = f"access_token={self._reveal(self.options.token)}"
        secret = self._reveal(self.options.secret)
        if secret:
            timestamp = int(now * 1000)
            # already URL-encoded once by dingtalk_sign: put in verbatim
            query += f"&timestamp={timestamp}&sign={dingtalk_sign(timestamp, secret)}"
        shown = self.card(notification)
        body = {"msgtype": "markdown",
                "markdown": {"title": shown.title,
                             "text": shown.markdown(limit=self.max_bytes)}}
        return f"{self.base}/robot/send?{query}", body


class WeCom(Robot):
    service = "企业微信"
    default_base = "https://qyapi.weixin.qq.com"
    max_bytes = 4096  # a markdown message's content, UTF-8 (group robot docs)
    # https://developer.work.weixin.qq.com/document/path/90313 (global error codes);
    # https://developer.work.weixin.qq.com/document/path/91770 (群机器人配置说明): 20 messages a
    # minute, markdown content at most 4096 bytes; /90454 (访问频率限制): a per-minute block
    # lasts 60 s, hence the 60 s wait on 45009 ("api freq out of limit").
    config_errors = {
        93000: "webhook 地址无效（key 错误）",
        93004: "机器人已被停用",
        93008: "不在群里",
        40008: "不支持的消息类型",
    }
    rate_limited = frozenset({45009, 45033})

    def request(self, notification: Notification, now: float) -> tuple[str, dict[str, Any]]:
        key = self._reveal(self.options.token)
        content = self.card(notification).markdown(limit=self.max_bytes)
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        return f"{self.base}/cgi-bin/webhook/send?key={key}", body


class Feishu(Robot):
    service = "飞书"
    default_base = "https://open.feishu.cn"
    code_field = "code"
    message_field = "msg"
    # https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot (自定义机器人使用指南):
    # 100 messages a minute and 5 a second per robot, 11232 when throttled, a request body of at
    # most 20 KB. 19021 "sign match fail or timestamp is not within one hour from current time"
    # (feiyu563/PrometheusAlert#422); 19002 "params error, msg_type need" (a malformed
    # request, cliii-one/FnDepot#22); 9499 "Bad Request" is a refused request, not a rate
    # limit (it was retried every minute forever before).
    max_bytes = 18_000  # the markdown, leaving room in the 20 KB body for the header and JSON
    config_errors = {
        19021: "签名校验失败或时间戳与服务器时间相差超过 1 小时",
        19022: "IP 不在白名单",
        19024: "关键词校验失败",
        19001: "webhook 地址无效",
        19002: "请求参数错误",
        9499: "请求格式错误（Bad Request）",
    }
    rate_limited = frozenset({11232})

    def request(self, notification: Notification, now: float) -> tuple[str, dict[str, Any]]:
        hook = self._reveal(self.options.token)
        shown = self.card(notification)
        body: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": shown.title},
                           "template": shown.color},
                # the header shows the title: the body starts with the lead
                "elements": [{"tag": "markdown",
                              "content": shown.markdown(heading=False, limit=self.max_bytes)}],
            },
        }
        secret = self._reveal(self.options.secret)
        if secret:
            timestamp = int(now)
            body = {"timestamp": str(timestamp), "sign": feishu_sign(timestamp, secret), **body}
        return f"{self.base}/open-apis/bot/v2/hook/{hook}", body
