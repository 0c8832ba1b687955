"""Configs and recorded streams for the service tests."""

from __future__ import annotations

import json
from pathlib import Path

RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
    - {name: 城关第二中学, aliases: [城关二中]}
  negative_words: [体罚, 殴打, 隐瞒, 变质]
chains:
  major:
    - {notify: 值班员, ack_within: %(ack_within)s}
    - {notify: 办公室主任, ack_within: 1h}
rules:
  - id: negative-burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 3, within: 1h, per: entity}
    then:
      incident: {severity: 较大, chain: major}
"""

CONFIG = """\
state_dir: state
control_socket: %(socket)s
rules: [rules.yaml]
sources:
  - {name: forum, kind: replay, path: stream.jsonl, speed: %(speed)s}
notifiers:
  - {name: alerts, kind: jsonl, path: alerts.jsonl}
%(extra_notifiers)s
roles:
  值班员: {person: 张明, channels: [%(channels)s]}
  办公室主任: {person: 李华, channels: [%(channels)s]}
shutdown_grace: %(grace)s
status_every: 0.2s
delivery: {timeout: 60s}
"""


def write_stream(path: Path, count_per_school: int, gap_seconds: float) -> int:
    """Negative posts alternating between two schools, ``gap_seconds`` apart (recorded time)."""
    lines = []
    for n in range(count_per_school * 2):
        school = "六处学校" if n % 2 == 0 else "城关二中"
        minute, second = divmod(int(n * gap_seconds), 60)
        lines.append(json.dumps({
            "at": f"2026-05-10T10:{minute:02d}:{second:02d}+08:00",
            "id": f"post-{n}",
            "title": f"{school}老师体罚学生，学校隐瞒（{n}）",
            "url": f"https://forum.example/t/{n}",
            "author": f"user{n % 5}",
        }, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def write_setup(folder: Path, socket: Path, *, speed: float = 1000, ack_within: str = "1h",
                grace: str = "5s", slow: str | None = None, posts_per_school: int = 3,
                gap_seconds: float = 1) -> Path:
    """A full daemon setup in ``folder``; returns the config path."""
    extra = f"  - {{name: slow, kind: slow, {slow}}}" if slow else ""
    channels = "alerts, slow" if slow else "alerts"
    (folder / "rules.yaml").write_text(RULES % {"ack_within": ack_within}, encoding="utf-8")
    write_stream(folder / "stream.jsonl", posts_per_school, gap_seconds)
    config = folder / "yuqingd.yaml"
    config.write_text(CONFIG % {"socket": socket, "speed": speed, "extra_notifiers": extra,
                                "channels": channels, "grace": grace}, encoding="utf-8")
    return config
