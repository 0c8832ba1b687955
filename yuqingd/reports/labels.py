"""The Chinese labels reports and messages show, each defined once."""

from __future__ import annotations

SENTIMENTS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
