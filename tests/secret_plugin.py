"""A notifier kind whose options hold secrets, as an SMTP or robot notifier's would; for the CLI
tests, loaded through ``$YUQINGD_PLUGINS``."""

from __future__ import annotations

from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.notifiers import NotifierKind
from yuqingd.schema_types import STRICT, NonEmptyStr
from yuqingd.secrets import Secret


class MailOptions(BaseModel):
    model_config = STRICT
    host: NonEmptyStr
    password: Secret
    robots: list[Secret] = []


class MailNotifier:
    def __init__(self, spec):
        self.password = spec.options.password.reveal(spec.base_dir)

    async def send(self, notification) -> None:
        pass


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [NotifierKind("secret-mail", MailOptions, MailNotifier, "test kind with secrets")]
