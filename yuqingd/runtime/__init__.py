"""The daemon's run-time behaviour: matching items against rules and acting on them, incidents
and their ladders, expectations (deadlines people must meet), obligations (what every
deadline-with-a-ladder shares: the step, the catch-up after downtime, the miss record),
outreach (who is told through which channel, the text, the outbox) and silences, watches, the
roster and directory of who holds which role. It reads and writes only through the store API
(:mod:`yuqingd.store.api`) and sends only through :mod:`yuqingd.runtime.outreach`; the rule
language itself lives in :mod:`yuqingd.rules`. No SQL and no tasks or awaiting here: the
scheduler and the daemon drive it."""
