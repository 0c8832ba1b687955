"""Every hook a yuqingd plugin can implement.

Plugins are found through the entry-point group ``yuqingd`` (the built-in ones too). Hook
implementations are synchronous and return objects; the async work those objects do (a source's
``run``, a notifier's ``send``) is run by the core under a supervisor.
"""

from __future__ import annotations

import pluggy

from yuqingd.enrichers import Enricher
from yuqingd.notifiers import NotifierKind
from yuqingd.sources import SourceKind

hookspec = pluggy.HookspecMarker("yuqingd")


@hookspec
def yuqingd_source_kinds() -> list[SourceKind]:
    """Return the source kinds this plugin offers (may be empty).

    Called once per plugin when the configuration is loaded (at start, by ``yuqingd check`` and
    on every reload), in plugin registration order. Each kind's ``name`` is what a ``sources:``
    entry names as ``kind:``; its ``options`` model is the plugin's config schema and validates
    the rest of that entry (errors are reported with file, line and column); ``create`` is called
    with the validated spec each time the source is (re)started. Two plugins offering the same
    kind name is a configuration error.
    """


@hookspec
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    """Return the notifier kinds this plugin offers (may be empty).

    Called like :func:`yuqingd_source_kinds`; a ``notifiers:`` entry names its ``kind:``, the
    kind's ``options`` model validates the rest of the entry, and ``create`` builds the notifier
    whose ``send`` the delivery subsystem calls for each outgoing notification.
    """


@hookspec
def yuqingd_enrichers() -> list[Enricher]:
    """Return the enrichers this plugin offers (may be empty): scores of its own for every item.

    Called once per plugin when the pipeline is set up (at start and on every reload), in plugin
    registration order; the enrichers then run in that order for each item, after the built-in
    analysis (entities, topics, sentiment, severity) and before the rules see it. An enricher's
    ``score(item, enrichment)`` returns a :class:`~yuqingd.enrichers.Score` or ``None`` (no
    opinion). Its value is kept with the item under the enricher's ``name`` and shown in the
    *why* and by ``yuqingd analyze``; with ``replace_sentiment=True`` a score's ``label``
    (negative / neutral / positive) and value replace the built-in sentiment. An enricher that
    raises is logged and skipped for that item; the item is processed without it.
    """
