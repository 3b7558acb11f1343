"""The default checkers' specs: one per name, read-only."""

from __future__ import annotations

import pytest

from gameday import checker_specs
from gameday.checker_specs import CHECKER_CATALOG, RTO_FAILOVER
from gameday.units import Unit


def test_a_second_spec_under_a_name_taken_is_refused_and_the_catalog_keeps_the_first() -> None:
    with pytest.raises(ValueError, match=r"two checker specs are named 'rto\.failover'"):
        checker_specs._spec("rto.failover", Unit.COUNT)
    assert CHECKER_CATALOG["rto.failover"] is RTO_FAILOVER


def test_the_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        CHECKER_CATALOG["orders.ghost"] = RTO_FAILOVER  # type: ignore[index]
