"""Built-in notifiers for HTTP channels: ``webhook`` and the ``dingtalk``, ``wecom`` and
``feishu`` group robots (docs/notifiers.md)."""

from __future__ import annotations

from yuqingd import hookimpl
from yuqingd.notifiers import NotifierKind

from .robots import DingTalk, Feishu, RobotOptions, WeCom
from .webhook import Webhook, WebhookOptions

__version__ = "0.1.0"


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [
        NotifierKind("webhook", WebhookOptions, Webhook,
                     "POSTs the notification as signed JSON to a URL"),
        NotifierKind("dingtalk", RobotOptions, DingTalk, "钉钉群机器人 (markdown)"),
        NotifierKind("wecom", RobotOptions, WeCom, "企业微信群机器人 (markdown)"),
        NotifierKind("feishu", RobotOptions, Feishu, "飞书群机器人 (interactive card)"),
    ]
