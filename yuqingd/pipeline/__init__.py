"""The per-item path: normalise (traditional/simplified, full-width, spacing), enrich (watched
names, sentiment, topics, severity, with a readable why), group into stories, hash authors
(privacy), then store the item and hand it to the rules in one transaction (``stage.py``).
Nothing here opens incidents or sends: it calls the rule runtime (:mod:`yuqingd.runtime`)."""
