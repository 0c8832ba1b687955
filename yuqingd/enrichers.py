"""What an enricher plugin offers: a score of its own for every item (a third-party sentiment
model, a spam score), optionally replacing the built-in sentiment label."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from yuqingd.model import Enrichment, Item

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Score:
    """One enricher's verdict on one item."""

    value: float  # a sentiment model: -1 (negative) … 1 (positive); otherwise its own scale
    label: str | None = None  # negative | neutral | positive, when the model gives one

    def __post_init__(self) -> None:
        if self.label is not None and self.label not in LABELS:
            raise ValueError(f"Score.label must be one of {LABELS}, not {self.label!r}")


@dataclass(frozen=True)
class Enricher:
    """``score`` is called for every item after the built-in analysis, on the pipeline's
    thread: keep it fast (a model in memory, no network). ``None`` means no opinion."""

    name: str
    score: Callable[[Item, Enrichment], Score | None]
    # True: a label from this enricher replaces the built-in sentiment (and its score); rules on
    # ``sentiment:`` then follow the model. Severity never depends on sentiment.
    replace_sentiment: bool = False
