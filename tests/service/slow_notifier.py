"""A notifier plugin for service tests, loaded with YUQINGD_PLUGINS: each send takes
``delay`` seconds (or forever with ``hang: true``)."""

import trio
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.notifiers import NotifierKind
from yuqingd.schema_types import STRICT


class SlowOptions(BaseModel):
    model_config = STRICT
    delay: float = 0.2
    hang: bool = False
    log: str = ""  # append every send's id here (no dedupe: shows what the core resends)


class SlowNotifier:
    def __init__(self, spec):
        self.options = spec.options

    async def send(self, notification):
        if self.options.log:
            with open(self.options.log, "a", encoding="utf-8") as f:  # noqa: ASYNC230
                f.write(notification.id + "\n")
        if self.options.hang:
            await trio.sleep_forever()
        await trio.sleep(self.options.delay)


@hookimpl
def yuqingd_notifier_kinds():
    return [NotifierKind("slow", SlowOptions, SlowNotifier)]
