"""Market data over run time, from the OMS's ``oms.feeds`` events (issue 16): each feed's age as each
instance saw it, and the feed each instance had selected (a step per change).

Events come on every change and at least every ``publish_interval_ms`` (1 s by default), so an age
is drawn at the instants it was reported, not continuously.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.history import Op, OpKind
from gameday.report.data_model import Clock, Series

__all__ = ["NO_FEED", "feed_ages", "feed_names", "selected_feeds"]

NO_FEED = -1.0
"""The selected-feed value while an instance has no usable feed."""


def _feed_events(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if op.kind == OpKind.SUT and op.f == "feeds"
            and isinstance(op.value.get("feeds"), dict) and isinstance(op.value.get("instance"), str)]


def feed_names(ops: Sequence[Op]) -> tuple[str, ...]:
    """Every feed the OMS reported, sorted: the selected-feed series' values index it."""
    return tuple(sorted({str(name) for op in _feed_events(ops) for name in op.value["feeds"]}))


def feed_ages(ops: Sequence[Op], clock: Clock) -> tuple[Series, ...]:
    """Each feed's age (ms since its last message) per instance: series ``"<instance> <feed>"``."""
    found: dict[str, tuple[list[float], list[float]]] = {}
    for op in _feed_events(ops):
        for feed, view in op.value["feeds"].items():
            age = view.get("age_ms") if isinstance(view, dict) else None
            if not isinstance(age, int | float):
                continue
            t, values = found.setdefault(f"{op.value['instance']} {feed}", ([], []))
            t.append(clock.s(op.t_ns))
            values.append(float(age))
    return tuple(Series(name=name, t_s=tuple(t), values=tuple(v)) for name, (t, v) in sorted(found.items()))


def selected_feeds(ops: Sequence[Op], clock: Clock, names: Sequence[str]) -> tuple[Series, ...]:
    """The feed each instance had selected (its index in ``names``; :data:`NO_FEED` for none)."""
    found: dict[str, tuple[list[float], list[float]]] = {}
    for op in _feed_events(ops):
        selected = op.value.get("selected")
        value = float(names.index(selected)) if selected in names else NO_FEED
        t, values = found.setdefault(op.value["instance"], ([], []))
        if values and values[-1] == value:
            continue
        t.append(clock.s(op.t_ns))
        values.append(value)
    return tuple(Series(name=name, t_s=tuple(t), values=tuple(v)) for name, (t, v) in sorted(found.items()))
