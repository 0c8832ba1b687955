"""The rule language only: its model (the single source of truth for what a rule file may say),
loading and merging rule files, compiling match conditions, the matching engines (durable-rules
only in ``engine.py``) and thresholds as data. What happens when a rule fires lives in
:mod:`yuqingd.runtime`; nothing here touches the store, the clock or the outbox."""
