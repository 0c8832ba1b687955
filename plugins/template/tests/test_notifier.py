"""The example-webhook notifier: signed with the context's clock, idempotent, retried."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from yuqingd.testing import START_EPOCH, make_notification, run_notifier

from yuqingd_example import yuqingd_notifier_kinds

URL = "https://hook.example/send"
KIND = yuqingd_notifier_kinds()[0]


async def test_posts_signed_json_with_the_daemons_clock(http_mock, autojump_clock, tmp_path):
    (tmp_path / "key").write_text("s3cret\n")
    http_mock.route("POST", URL, json={"ok": True})
    run = await run_notifier(KIND, [make_notification()], http=http_mock.client,
                             options={"url": URL, "secret": {"file": "key"}}, base_dir=tmp_path)
    assert len(run.delivered) == 1
    request = http_mock.requests[0]
    assert request.headers["X-Timestamp"] == str(int(START_EPOCH))
    expected = hmac.new(b"s3cret", f"{int(START_EPOCH)}.".encode() + request.content,
                        hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == expected
    body = json.loads(request.content)
    assert body["title"] == "涉校负面信息集中出现" and body["to"] == ["张明"]
    assert body["links"] == ["https://forum.example/t/1"]
    assert body["text"] == make_notification().text  # the finished text, links not repeated


async def test_a_retry_carries_the_same_idempotency_key(http_mock, autojump_clock):
    http_mock.route("POST", URL, status=502)
    http_mock.route("POST", URL, status=200)
    notification = make_notification()
    run = await run_notifier(KIND, [notification, notification], http=http_mock.client,
                             options={"url": URL}, raise_errors=False)
    assert [str(e) for _, e in run.errors] == [f"HTTP 502 from {URL}"]
    assert len(run.delivered) == 1
    keys = {r.headers["Idempotency-Key"] for r in http_mock.requests}
    assert keys == {notification.id}


async def test_failure_raises_for_the_core_to_retry(http_mock, autojump_clock):
    http_mock.route("POST", URL, status=500)
    with pytest.raises(Exception, match="HTTP 500"):
        await run_notifier(KIND, [make_notification()], http=http_mock.client,
                           options={"url": URL})
