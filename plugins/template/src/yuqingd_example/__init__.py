"""yuqingd-example: a JSON-API source (``example-json``) and a signed webhook notifier
(``example-webhook``), written against ``yuqingd.plugin_api`` only."""

from __future__ import annotations

from yuqingd.plugin_api import NotifierKind, SourceKind, hookimpl

from yuqingd_example.notifier import WebhookNotifier, WebhookOptions
from yuqingd_example.source import JsonApiOptions, JsonApiSource

YUQINGD_API = 1  # the major of yuqingd.plugin_api this plugin is written against
__version__ = "0.1.0"


@hookimpl
def yuqingd_source_kinds() -> list[SourceKind]:
    return [SourceKind("example-json", JsonApiOptions, JsonApiSource,
                       "polls a JSON API of posts (created_at in milliseconds)")]


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [NotifierKind("example-webhook", WebhookOptions, WebhookNotifier,
                         "posts each notification as signed JSON to a webhook")]
