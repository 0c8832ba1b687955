"""Watches (跟踪): a story, topic, entity or source tracked for a while after a rule fires
(``then.watch``) or a person asks (``yuqingd watch start``).

While a watch runs, every new item about its key is collected; a tracking summary (跟踪情况)
goes out every ``summary_every`` (the items new since the last one, by source and sentiment,
the newest with links), and a closing summary when it ends. Activity extends a watch: an item
arriving within ``summary_every`` of the end moves the end to one interval after that item,
never beyond ``max_for`` (default 3 × ``for``) from the start; a rule firing again extends it
to ``for`` from then, under the same bound.

Restart-safe: the next summary and the end are in the store. Summaries missed while the daemon
was down go out once at start (one summary, not one per missed slot); a watch whose end passed
sends only its closing summary, which covers everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from yuqingd.events import Events
from yuqingd.model import Item
from yuqingd.reports.labels import SENTIMENTS, TRACKED
from yuqingd.rules.model import DEFAULT_SUMMARY_EVERY, DEFAULT_WATCH
from yuqingd.runtime.audit import Audit
from yuqingd.runtime.outreach import Outreach
from yuqingd.store.api import Store, StoryRow, WatchItemRow, WatchRow
from yuqingd.time.clock import Clock

KIND_NAMES = TRACKED
SENTIMENT_NAMES = SENTIMENTS
NEWEST = 5  # items listed with links in a summary


@dataclass(frozen=True)
class WatchRequest:
    """What to watch, for how long, and who is told."""

    kind: str  # entity | topic | story | source
    key: str
    title: str
    duration: float = DEFAULT_WATCH
    summary_every: float = DEFAULT_SUMMARY_EVERY
    longest: float = 3 * DEFAULT_WATCH
    roles: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    rule: str = ""  # "" for a watch a person started
    by: str = "yuqingd"


class Watches:
    """The running watches: item collection on the pipeline's path, summaries on time."""

    def __init__(self, store: Store, clock: Clock, outreach: Outreach, events: Events):
        self.store = store
        self.clock = clock
        self.outreach = outreach
        self.events = events
        self.audit = Audit(store, events)

    # starting and stopping (inside the caller's transaction) ------------------------------

    def start(self, request: WatchRequest, now: float,
              items: Sequence[tuple[str, str, float]] = ()) -> tuple[int, bool]:
        """Start a watch, or extend the one already running for the same rule and key.
        ``items`` (the firing window) belong to it from the start but are not "new" in the
        first summary. Returns (watch id, whether it is new)."""
        running = self.store.running_watch_for(request.rule, request.kind, request.key)
        if running is not None:
            ends = min(max(running["ends_at"], now + request.duration), running["latest_end"]
                       or running["ends_at"])
            self.store.set_watch_end(running["id"], ends)
            for source, item_id, at in items:
                self.store.add_watch_item(running["id"], source, item_id, at)
            return running["id"], False
        recipients = {"roles": list(request.roles), "channels": list(request.channels),
                      "people": list(request.people)}
        watch_id = self.store.start_watch(
            rule_id=request.rule, kind=request.kind, key=request.key, title=request.title,
            by=request.by, recipients=recipients, at=now, ends_at=now + request.duration,
            summary_every=request.summary_every,
            latest_end=now + max(request.longest, request.duration))
        for source, item_id, at in items:
            self.store.add_watch_item(watch_id, source, item_id, at, reported=True)
        self.audit.record("watch.started", now, watch=watch_id, rule=request.rule or None,
                          kind=request.kind, key=request.key, by=request.by,
                          until=self.clock.format(now + request.duration),
                          hours=round(request.duration / 3600, 2))
        return watch_id, True

    def stop(self, watch_id: int, now: float, by: str) -> None:
        """End a running watch early, with its closing summary."""
        row = self.store.watch(watch_id)
        assert row is not None and row["state"] == "running"
        self._end(row, now, by)

    # a person's commands (each in its own transaction) and what they read ---------------

    def start_now(self, request: WatchRequest, now: float) -> tuple[WatchRow, bool]:
        """``yuqingd watch start``: start or extend; returns the watch and whether it is new."""
        with self.store.transaction():
            watch_id, new = self.start(request, now)
            row = self.store.watch(watch_id)
        assert row is not None  # just started or extended
        return row, new

    def stop_now(self, watch_id: int, now: float, by: str) -> None:
        """``yuqingd watch stop``."""
        with self.store.transaction():
            self.stop(watch_id, now, by)

    def get(self, watch_id: int) -> WatchRow | None:
        return self.store.watch(watch_id)

    def running(self) -> list[tuple[WatchRow, int]]:
        """The running watches, each with how many items it has collected."""
        return [(row, len(self.store.watch_items(row["id"])))
                for row in self.store.running_watches()]

    def story(self, story_id: int) -> StoryRow | None:
        """A story a person may ask to watch."""
        return self.store.story(story_id)

    # items (inside the pipeline's transaction) --------------------------------------------

    def on_item(self, item: Item, entities: list[str], topics: tuple[str, ...],
                story_id: int | None, now: float) -> bool:
        """Collect one new item into every running watch about it; True when a watch's end
        moved (the scheduler must re-plan)."""
        watches = self.store.running_watches()
        if not watches:
            return False
        keys = {("entity", e) for e in entities} | {("topic", t) for t in topics}
        keys.add(("source", item.source))
        if story_id is not None:
            keys.add(("story", str(story_id)))
        moved = False
        for row in watches:
            if (row["kind"], row["group_key"]) not in keys:
                continue
            if not self.store.add_watch_item(row["id"], item.source, item.id, now):
                continue
            every = row["summary_every"] or DEFAULT_SUMMARY_EVERY
            ends = min(max(row["ends_at"], now + every), row["latest_end"] or row["ends_at"])
            if ends > row["ends_at"]:
                self.store.set_watch_end(row["id"], ends)
                moved = True
        return moved

    # time-driven --------------------------------------------------------------------------

    def next_due(self) -> float | None:
        return self.store.next_watch_time()

    def fire_due(self, now: float) -> bool:
        """Send the summaries and closing summaries due at ``now``."""
        acted = False
        with self.store.transaction():
            for row in self.store.running_watches():
                if row["ends_at"] <= now:
                    self._end(row, now, "")
                    acted = True
                elif row["next_summary"] is not None and row["next_summary"] <= now:
                    self._summary(row, now)
                    acted = True
        return acted

    def _summary(self, row: WatchRow, now: float) -> None:
        every = row["summary_every"] or DEFAULT_SUMMARY_EVERY
        number = row["summaries"] + 1
        new = self.store.watch_items(row["id"], unreported=True)
        total = len(self.store.watch_items(row["id"]))
        since = row["next_summary"] - every  # the previous summary, or the start
        lines = [f"【跟踪情况】{row['title']}（第 {number} 次）",
                 f"跟踪对象：{KIND_NAMES.get(row['kind'], row['kind'])} {row['group_key']}",
                 f"新增信息：{len(new)} 条（{self.clock.format(since)} 起），"
                 f"累计 {total} 条"]
        lines += breakdown(new)
        lines.append(f"跟踪至：{self.clock.format(row['ends_at'])}")
        lines.append(f"时间：{self.clock.format(now)}")
        # The next one counts from now: summaries missed while down collapse into this one.
        self.store.record_watch_summary(row["id"], now + every)
        self.events.emit("watch.summary", now, watch=row["id"], rule=row["rule_id"] or None,
                         kind=row["kind"], key=row["group_key"], number=number, new=len(new),
                         total=total)
        self._send(row, "watch.summary", f"s{number}", "\n".join(lines), now, new)

    def _end(self, row: WatchRow, now: float, by: str) -> None:
        items = self.store.watch_items(row["id"])
        unreported = len(self.store.watch_items(row["id"], unreported=True))
        reason = f"由 {by} 停止" if by else "到期结束"
        lines = [f"【跟踪结束】{row['title']}",
                 f"跟踪对象：{KIND_NAMES.get(row['kind'], row['kind'])} {row['group_key']}",
                 f"跟踪时段：{self.clock.format(row['started'])} 至 {self.clock.format(now)}"
                 f"（{reason}）",
                 f"共收集信息：{len(items)} 条，其中上次跟踪情况后新增 {unreported} 条"]
        lines += breakdown(items, "（跟踪期间无相关信息）")  # covers the whole watch
        lines.append(f"时间：{self.clock.format(now)}")
        self.store.finish_watch(row["id"], now, by or "yuqingd")
        self.store.record_watch_summary(row["id"], None)
        self.audit.record("watch.ended", now, watch=row["id"], rule=row["rule_id"] or None,
                          kind=row["kind"], key=row["group_key"], items=len(items),
                          by=by or None)
        self._send(row, "watch.closing", "end", "\n".join(lines), now, items)

    def _send(self, row: WatchRow, kind: str, tag: str, text: str, now: float,
              items: Sequence[WatchItemRow]) -> None:
        to = row.recipients
        if not (to.get("roles") or to.get("channels") or to.get("people")):
            return  # nobody named: the events and the record still show it
        self.outreach.send(
            kind=kind, ident=f"watch{row['id']}", roles=to.get("roles", []),
            channels=to.get("channels", []), people=to.get("people", []), text=text, at=now,
            tag=tag, title=row["title"], rule=row["rule_id"], key=row["group_key"],
            items=[self.outreach.item(i.title, i.url, i.source, i.at)
                   for i in items[-NEWEST:]])


def breakdown(items: Sequence[WatchItemRow], empty: str = "（本时段无新增信息）") -> list[str]:
    """Counts by source and by sentiment, then the newest items with their links."""
    if not items:
        return [empty]
    sources = Counter(i["source"] for i in items)
    moods = Counter(i["sentiment"] for i in items)
    lines = ["按来源：" + "，".join(f"{s} {n}" for s, n in sources.most_common()),
             "按倾向：" + "，".join(f"{SENTIMENT_NAMES.get(m, m)} {moods[m]}"
                                for m in ("negative", "neutral", "positive") if moods[m]),
             "最新信息："]
    lines += [f"- {i['title']} {i['url']}".rstrip() for i in reversed(items[-NEWEST:])]
    return lines
