"""Secrets in config and plugin options: SMTP passwords, robot secrets, API tokens, signing keys.

A field typed :data:`Secret` accepts three spellings::

    password: s3cret                       # inline: only for a config no other user can read
    password: {file: /etc/yuqingd/smtp.pw}  # a file (relative to the config's folder)
    password: {credential: smtp-password}   # a systemd credential: LoadCredential=smtp-password:…

The value is read when it is used (``reveal``), so a rotated file or credential takes effect on
the next reload without the secret ever being kept in the parsed config, printed in a repr or
written to a log. ``yuqingd check`` warns about inline secrets in a world-readable file
(:func:`inline_secret_warnings`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, BeforeValidator, PlainSerializer

from yuqingd.located import Loc, LocatedDocument, msg

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"  # set by systemd for units with LoadCredential=


class SecretError(ValueError):
    """A secret's file or credential cannot be read."""


@dataclass(frozen=True)
class SecretRef:
    """Where a secret is; exactly one of the three is set. Never holds a file's content."""

    inline: str | None = None
    file: str | None = None
    credential: str | None = None

    def __repr__(self) -> str:  # the inline value must not reach logs or tracebacks
        if self.file is not None:
            return f"Secret(file={self.file!r})"
        if self.credential is not None:
            return f"Secret(credential={self.credential!r})"
        return "Secret(inline=***)"

    __str__ = __repr__

    def reveal(self, base_dir: Path | None = None) -> str:
        """The secret's value. ``base_dir``: the config's folder, for a relative ``file:``.
        One trailing newline is dropped (``echo secret > file`` writes one)."""
        if self.inline is not None:
            return self.inline
        if self.file is not None:
            path = Path(self.file)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            return _read(path, msg(f"密钥文件 {path}", f"secret file {path}"))
        assert self.credential is not None
        folder = os.environ.get(CREDENTIALS_ENV)
        if not folder:
            raise SecretError(msg(
                f"systemd 凭据 '{self.credential}' 不可用：未设置 ${CREDENTIALS_ENV}"
                f"（单元中需 LoadCredential={self.credential}:文件路径）",
                f"systemd credential '{self.credential}' is not available: "
                f"${CREDENTIALS_ENV} is not set (the unit needs "
                f"LoadCredential={self.credential}:PATH)"))
        return _read(Path(folder) / self.credential,
                     msg(f"systemd 凭据 '{self.credential}'",
                         f"systemd credential '{self.credential}'"))


def _read(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(msg(f"无法读取{what}: {exc.strerror}",
                              f"cannot read {what}: {exc.strerror}")) from None
    return text[:-1] if text.endswith("\n") else text


class _Reference(BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    file: Annotated[str, pydantic.StringConstraints(min_length=1)] | None = None
    credential: Annotated[
        str, pydantic.StringConstraints(min_length=1, pattern=r"^[A-Za-z0-9_.@-]+$")
    ] | None = None

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> _Reference:
        if (self.file is None) == (self.credential is None):
            raise ValueError(msg("密钥须写 file: 或 credential: 二者之一",
                                 "a secret needs exactly one of file: or credential:"))
        return self


def _parse(value: Any) -> SecretRef:
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, str):
        if not value:
            raise ValueError(msg("密钥不能为空", "a secret cannot be empty"))
        return SecretRef(inline=value)
    if isinstance(value, dict):
        ref = _Reference.model_validate(value)
        return SecretRef(file=ref.file, credential=ref.credential)
    raise ValueError(msg("密钥应为字符串、{file: 路径} 或 {credential: 名称}",
                         "a secret is a string, {file: PATH} or {credential: NAME}"))


def _dump(ref: SecretRef) -> Any:
    if ref.file is not None:
        return {"file": ref.file}
    if ref.credential is not None:
        return {"credential": ref.credential}
    return "***"


# The option type plugins and the core use for anything secret.
Secret = Annotated[
    SecretRef,
    BeforeValidator(_parse),
    PlainSerializer(_dump),
    pydantic.WithJsonSchema({
        "description": "inline string, {file: PATH} or {credential: NAME}",
        "anyOf": [
            {"type": "string", "minLength": 1},
            {"type": "object", "properties": {"file": {"type": "string"}},
             "required": ["file"], "additionalProperties": False},
            {"type": "object", "properties": {"credential": {"type": "string"}},
             "required": ["credential"], "additionalProperties": False},
        ],
    }),
]


def find_secrets(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, SecretRef]]:
    """Every SecretRef inside parsed models, lists and mappings, with its place in the file."""
    if isinstance(value, SecretRef):
        yield loc, value
    elif isinstance(value, BaseModel):
        for name, field_value in value:
            yield from find_secrets(field_value, (*loc, name))
        for name, field_value in (value.model_extra or {}).items():
            yield from find_secrets(field_value, (*loc, name))
    elif isinstance(value, list | tuple):
        for i, element in enumerate(value):
            yield from find_secrets(element, (*loc, i))
    elif isinstance(value, dict):
        for key, element in value.items():
            yield from find_secrets(element, (*loc, key))


def readable_by_others(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IROTH)


def inline_secret_warnings(doc: LocatedDocument, sections: list[tuple[Loc, Any]]) -> list[str]:
    """Warnings, located, for inline secrets when the config file is readable by other users.
    ``sections``: (place in the file, parsed value), e.g. (("notifiers", 0), options)."""
    if not readable_by_others(doc.path):
        return []
    warnings = []
    for prefix, value in sections:
        for loc, ref in find_secrets(value, prefix):
            if ref.inline is not None:
                warnings.append(str(doc.at(loc, msg(
                    "警告: 密钥直接写在其他用户可读的配置文件中；请改用 {file: 路径} 或 "
                    "{credential: 名称}（systemd LoadCredential=），或把文件权限改为 0640",
                    "warning: a secret is written inline in a config file other users can "
                    "read; use {file: PATH} or {credential: NAME} (systemd LoadCredential=), "
                    "or make the file 0640"))))
    return warnings
