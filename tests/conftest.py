from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处, 耒阳六处学校]}
    - {name: 城关第二中学, aliases: [城关二中]}
  negative_words: [体罚, 殴打, 隐瞒, 变质]
  positive_words: [表彰, 点赞]
chains:
  major:
    - {notify: 值班员, ack_within: 15m}
    - {notify: 办公室主任, ack_within: 30m}
    - {notify: 组长, repeat_every: 1h}
rules:
  - id: negative-burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 3, within: 1h, per: entity}
    then:
      incident: {severity: 较大, chain: major}
"""

CONFIG = """\
timezone: Asia/Shanghai
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
sources:
  - {{name: forum, kind: scripted}}
notifiers:
  - {{name: duty-phone, kind: capture}}
roles:
  值班员: {{person: 张明, channels: [duty-phone]}}
  办公室主任: {{person: 李华, channels: [duty-phone]}}
  组长: {{person: 王强, channels: [duty-phone]}}
"""


@pytest.fixture
def short_dir():
    """A short folder for Unix sockets (their paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="yq", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_config(tmp_path, short_dir):
    """Write a config and its rule file; returns the config path."""

    def make(config: str = CONFIG, rules: str = RULES) -> Path:
        (tmp_path / "rules.yaml").write_text(textwrap.dedent(rules), encoding="utf-8")
        path = tmp_path / "yuqingd.yaml"
        text = textwrap.dedent(config).replace("{socket}", str(short_dir / "control.sock"))
        path.write_text(text.replace("{{", "{").replace("}}", "}"), encoding="utf-8")
        return path

    return make
