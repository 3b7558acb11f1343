"""The stack's own metrics as evidence: scraped at the probe interval, read back from the history.

- :mod:`gameday.metrics.exposition`: the Prometheus text format, filtered to the families a run needs;
- :mod:`gameday.metrics.scraper`: the probe that GETs each service's ``/metrics`` into the history;
- :mod:`gameday.metrics.series`: the recorded scrapes read back, selected and aggregated;
- :mod:`gameday.metrics.rules`: conditions over the series (alert rules, stop lines), their intervals.
"""

from gameday.metrics.exposition import DEFAULT_FAMILIES, Sample, parse_exposition
from gameday.metrics.rules import Across, AlertRule, Condition, ConditionWatch, Firing, firings
from gameday.metrics.series import MetricQuery, Scrape, TargetScrape, scrapes

__all__ = [
    "DEFAULT_FAMILIES",
    "Across",
    "AlertRule",
    "Condition",
    "ConditionWatch",
    "Firing",
    "MetricQuery",
    "Sample",
    "Scrape",
    "TargetScrape",
    "firings",
    "parse_exposition",
    "scrapes",
]
