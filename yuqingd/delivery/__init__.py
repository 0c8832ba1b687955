"""Delivery: the outbox workers, one per configured notifier, draining what
:mod:`yuqingd.runtime.outreach` enqueued, with retries and back-off. Nothing here decides who
is told or what is said; a notification is marked delivered only after its notifier returned."""
