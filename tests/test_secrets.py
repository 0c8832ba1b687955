"""Secrets come from files or systemd credentials; `check` warns about inline ones that other
users can read; none is ever printed."""

from __future__ import annotations

import os
import subprocess
import sys

import pydantic
import pytest

from yuqingd.config import load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.secrets import SecretError
from yuqingd.testing import Harness

from . import secret_plugin
from .conftest import CONFIG, REPO

MAIL = """\
  - name: mail
    kind: secret-mail
    host: 127.0.0.1
    password: {password}
"""


def config_with(make_config, password: str, mode: int = 0o640):
    text = CONFIG.replace("notifiers:\n", "notifiers:\n" + MAIL.replace("{password}", password))
    path = make_config(text)
    path.chmod(mode)
    return path


def mail_options(path):
    config = load_config(path, Plugins(get_plugin_manager(extra=(Harness(), secret_plugin))))
    spec = next(n for n in config.notifiers if n.name == "mail")
    return spec


def check(path, **env):
    return subprocess.run(
        [sys.executable, "-m", "yuqingd", "check", "--config", str(path)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
        env={**os.environ, "YUQINGD_PLUGINS": "tests.harness_plugin,tests.secret_plugin", **env})


def test_secret_from_a_file_relative_to_the_config(make_config, tmp_path):
    """`{file: …}` is read when used, relative to the config's folder, minus its newline."""
    (tmp_path / "smtp.pw").write_text("hunter2\n", encoding="utf-8")
    spec = mail_options(config_with(make_config, "{file: smtp.pw}"))
    assert spec.options.password.reveal(spec.base_dir) == "hunter2"
    (tmp_path / "smtp.pw").write_text("rotated", encoding="utf-8")
    assert spec.options.password.reveal(spec.base_dir) == "rotated"


def test_secret_from_a_systemd_credential(make_config, tmp_path, monkeypatch):
    """`{credential: NAME}` reads $CREDENTIALS_DIRECTORY/NAME (LoadCredential=NAME:…)."""
    spec = mail_options(config_with(make_config, "{credential: smtp-password}"))
    password = spec.options.password
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(SecretError, match="LoadCredential=smtp-password"):
        password.reveal()
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text("from-systemd", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert password.reveal() == "from-systemd"


def test_missing_secret_file_is_an_error_naming_the_file(make_config, tmp_path):
    spec = mail_options(config_with(make_config, "{file: nowhere.pw}"))
    with pytest.raises(SecretError, match="nowhere.pw"):
        spec.options.password.reveal(spec.base_dir)


def test_secret_never_shows_in_repr_or_dump(make_config):
    spec = mail_options(config_with(make_config, "hunter2"))
    assert spec.options.password.reveal() == "hunter2"
    assert "hunter2" not in repr(spec.options)
    assert "hunter2" not in str(spec.options.model_dump())


@pytest.mark.parametrize("bad", ["{file: a, credential: b}", "{path: a}", "{}", "[a]",
                                 "{credential: ../etc/shadow}"])
def test_malformed_secret_is_a_located_config_error(make_config, bad):
    path = config_with(make_config, bad)
    with pytest.raises(Exception) as info:
        mail_options(path)
    assert f"{path}:" in str(info.value)


def test_check_warns_about_an_inline_secret_readable_by_others(make_config):
    """A 0644 config with an inline password: `check` passes but warns, at the place."""
    path = config_with(make_config, "hunter2", mode=0o644)
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert f"{path}:11:15: 警告: 密钥直接写在其他用户可读的配置文件中" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_check_is_quiet_about_inline_secrets_in_a_private_config(make_config):
    result = check(config_with(make_config, "hunter2", mode=0o640))
    assert result.returncode == 0, result.stderr
    assert "警告" not in result.stderr


def test_check_is_quiet_about_file_and_credential_secrets(make_config):
    result = check(config_with(make_config, "{credential: smtp-password}", mode=0o644))
    assert result.returncode == 0, result.stderr
    assert "警告" not in result.stderr


def test_secret_option_schema_offers_the_three_forms():
    schema = pydantic.TypeAdapter(secret_plugin.MailOptions).json_schema()
    forms = schema["properties"]["password"]["anyOf"]
    assert [f.get("type") for f in forms] == ["string", "object", "object"]
