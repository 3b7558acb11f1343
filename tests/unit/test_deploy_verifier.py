"""Dark-launch verifier: per-event comparison, tolerance, critical fields and shadow lag."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trading_stack.config import Defect
from trading_stack.deploy.verifier import (
    Color,
    EventOutput,
    OutputField,
    Severity,
    Verdict,
    Verifier,
    VerifierConfig,
)
from trading_stack.models import OrderStatus

S = 1_000_000_000


def out(event: str, t_ns: int, position: int = 10, *, avg: float = 100.0, pnl: float = 5.0,
        status: OrderStatus | None = OrderStatus.PARTIALLY_FILLED, cum: int | None = 3) -> EventOutput:
    return EventOutput(event_id=event, processed_ns=t_ns, symbol="BTC-USD", position=position, avg_price=avg,
                       realized_pnl=pnl, order_id="o1", order_status=status, cum_qty=cum)


def pair(verifier: Verifier, blue: EventOutput, green: EventOutput) -> None:
    verifier.observe(Color.BLUE, blue)
    verifier.observe(Color.GREEN, green)


def test_identical_outputs_are_clean_once_enough_events_were_compared() -> None:
    verifier = Verifier(VerifierConfig(min_events=2))
    pair(verifier, out("e1", 0), out("e1", 1000))

    assert verifier.verdict(2000).verdict is Verdict.INSUFFICIENT

    pair(verifier, out("e2", 3000), out("e2", 4000))
    result = verifier.verdict(5000)

    assert result.verdict is Verdict.CLEAN
    assert (result.compared, result.pending, result.lag_ns) == (2, 0, 1000)


def test_a_numeric_difference_within_one_basis_point_is_clean() -> None:
    verifier = Verifier()
    pair(verifier, out("e1", 0, avg=100.0), out("e1", 0, avg=100.009))

    assert verifier.verdict(0).verdict is Verdict.CLEAN


def test_a_numeric_difference_above_the_tolerance_diverges_as_a_warning() -> None:
    verifier = Verifier()
    found = verifier.observe(Color.BLUE, out("e1", 0, avg=100.0))
    found = verifier.observe(Color.GREEN, out("e1", 0, avg=100.02))
    result = verifier.verdict(0)

    assert result.verdict is Verdict.DIVERGED
    assert [(d.field, d.severity) for d in found] == [(OutputField.AVG_PRICE, Severity.WARNING)]
    assert found[0].relative_bps is not None
    assert round(found[0].relative_bps, 6) == 2.0
    assert (result.warnings, result.critical) == (1, 0)


def test_a_position_off_by_more_than_one_percent_is_critical() -> None:
    verifier = Verifier()
    pair(verifier, out("e1", 0, 100), out("e1", 0, 102))

    evidence = verifier.verdict(0).discrepancies

    assert [(d.field, d.blue, d.green, d.severity) for d in evidence] == [
        (OutputField.POSITION, 100, 102, Severity.CRITICAL)
    ]


def test_a_different_direction_is_critical_even_for_one_lot() -> None:
    verifier = Verifier()
    pair(verifier, out("e1", 0, 0, avg=0.0), out("e1", 0, 1, avg=0.0))

    fields = {(d.field, d.severity, d.relative_bps) for d in verifier.verdict(0).discrepancies}

    assert fields == {
        (OutputField.POSITION, Severity.CRITICAL, None),
        (OutputField.DIRECTION, Severity.CRITICAL, None),
    }


def test_an_order_state_difference_is_critical_whatever_the_numbers() -> None:
    verifier = Verifier(VerifierConfig(tolerance_bps=1_000_000))
    done, new = OrderStatus.FILLED, OrderStatus.NEW
    pair(verifier, out("e1", 0, status=done, cum=10), out("e1", 0, status=new, cum=0))

    evidence = verifier.verdict(0).discrepancies

    assert {(d.field, d.severity) for d in evidence} == {
        (OutputField.ORDER_STATUS, Severity.CRITICAL),
        (OutputField.CUM_QTY, Severity.CRITICAL),
    }


def test_a_divergence_never_heals() -> None:
    verifier = Verifier()
    pair(verifier, out("e1", 0, 10), out("e1", 0, 20))
    for n in range(50):
        pair(verifier, out(f"ok{n}", n), out(f"ok{n}", n))

    assert verifier.verdict(100).verdict is Verdict.DIVERGED


def test_evidence_is_bounded_but_every_discrepancy_is_counted() -> None:
    verifier = Verifier(VerifierConfig(evidence_limit=3))
    for n in range(10):
        pair(verifier, out(f"e{n}", 0, 10), out(f"e{n}", 0, 20))

    result = verifier.verdict(0)

    assert len(result.discrepancies) == 3
    assert result.critical == 10


def test_green_before_blue_pairs_the_same_way() -> None:
    verifier = Verifier()
    verifier.observe(Color.GREEN, out("e1", 5))
    verifier.observe(Color.BLUE, out("e1", 2))

    result = verifier.verdict(10)

    assert (result.compared, result.lag_ns, result.verdict) == (1, 3, Verdict.CLEAN)


# -- shadow lag ------------------------------------------------------------------------
def test_an_event_green_has_not_processed_after_five_seconds_is_stale() -> None:
    verifier = Verifier()
    pair(verifier, out("e1", 0), out("e1", 0))
    verifier.observe(Color.BLUE, out("e2", 1 * S))

    assert verifier.verdict(6 * S).verdict is Verdict.CLEAN
    result = verifier.verdict(6 * S + 1)
    assert (result.verdict, result.pending, result.lag_ns) == (Verdict.STALE, 1, 5 * S + 1)


def test_green_processing_every_event_six_seconds_late_stays_stale_after_it_catches_up() -> None:
    verifier = Verifier()
    for n in range(5):
        pair(verifier, out(f"e{n}", n * S), out(f"e{n}", n * S + 6 * S))

    result = verifier.verdict(11 * S)

    assert (result.verdict, result.pending, result.lag_ns) == (Verdict.STALE, 0, 6 * S)


def test_defect_verifier_ignores_lag_reports_clean_while_green_is_six_seconds_behind() -> None:
    verifier = Verifier(VerifierConfig(defects=(Defect.VERIFIER_IGNORES_LAG,)))
    for n in range(5):
        pair(verifier, out(f"e{n}", n * S), out(f"e{n}", n * S + 6 * S))

    result = verifier.verdict(11 * S)

    assert (result.verdict, result.lag_ns, result.lag_checked) == (Verdict.CLEAN, 6 * S, False)


def test_the_lag_bound_is_configurable() -> None:
    verifier = Verifier(VerifierConfig(max_lag_s=0.5))
    pair(verifier, out("e1", 0), out("e1", S))

    assert verifier.verdict(S).verdict is Verdict.STALE


def test_a_green_so_far_behind_that_pending_overflows_is_stale() -> None:
    verifier = Verifier(VerifierConfig(max_pending=3))
    pair(verifier, out("e0", 0), out("e0", 0))
    for n in range(1, 5):
        verifier.observe(Color.BLUE, out(f"e{n}", 0))

    result = verifier.verdict(1)

    assert (result.verdict, result.pending, result.overflowed) == (Verdict.STALE, 3, True)


@given(st.lists(st.tuples(st.integers(0, 20 * S), st.integers(0, 10 * S), st.booleans()), min_size=1,
                max_size=30), st.integers(0, 10 * S))
def test_stale_exactly_while_green_trails_by_more_than_the_bound(events: list[tuple[int, int, bool]],
                                                                 after: int) -> None:
    verifier = Verifier()
    ordered = sorted(events)
    for n, (blue_t, delay, green_seen) in enumerate(ordered):
        verifier.observe(Color.BLUE, out(f"e{n}", blue_t))
        if green_seen:
            verifier.observe(Color.GREEN, out(f"e{n}", blue_t + delay))
    now = max(blue_t + delay for blue_t, delay, _ in ordered) + after
    unseen = [blue_t for blue_t, _, seen in ordered if not seen]
    seen_delays = [delay for _, delay, seen in ordered if seen]
    true_lag = now - min(unseen) if unseen else seen_delays[-1]

    result = verifier.verdict(now)

    assert result.lag_ns == true_lag
    assert (result.verdict is Verdict.STALE) == (true_lag > 5 * S)
    assert result.verdict is not Verdict.DIVERGED


# -- no evidence -------------------------------------------------------------------------
def test_silence_on_both_sides_for_longer_than_the_window_is_no_evidence_never_clean() -> None:
    verifier = Verifier()
    pair(verifier, out("e1", 0), out("e1", S))

    assert verifier.verdict(6 * S).verdict is Verdict.CLEAN
    verdicts = {verifier.verdict(6 * S + 1 + n * S // 2).verdict for n in range(40)}  # blue died at 1 s

    assert verdicts == {Verdict.NO_EVIDENCE}
    result = verifier.verdict(30 * S)
    assert (result.last_blue_ns, result.last_green_ns, result.evidence_window_ns) == (0, S, 5 * S)


def test_a_verifier_that_has_seen_nothing_says_no_evidence() -> None:
    result = Verifier().verdict(S)

    assert (result.verdict, result.last_blue_ns, result.last_green_ns) == (Verdict.NO_EVIDENCE, None, None)


def test_recent_outputs_from_one_side_are_evidence_and_each_side_is_reported() -> None:
    verifier = Verifier()
    pair(verifier, out("e1", 0), out("e1", 0))
    verifier.observe(Color.GREEN, out("replayed", 9 * S))

    result = verifier.verdict(10 * S)

    assert result.verdict is Verdict.CLEAN
    assert not result.has_evidence(Color.BLUE, 10 * S)
    assert result.has_evidence(Color.GREEN, 10 * S)


def test_a_divergence_or_a_lagging_green_is_reported_before_the_silence() -> None:
    diverged, stale = Verifier(), Verifier()
    pair(diverged, out("e1", 0, 10), out("e1", 0, 20))
    pair(stale, out("e0", 0), out("e0", 0))
    stale.observe(Color.BLUE, out("e1", 0))

    assert diverged.verdict(60 * S).verdict is Verdict.DIVERGED
    assert stale.verdict(60 * S).verdict is Verdict.STALE


def test_the_evidence_window_is_the_staleness_bound() -> None:
    verifier = Verifier(VerifierConfig(max_lag_s=1.0))
    pair(verifier, out("e1", 0), out("e1", 0))

    assert verifier.verdict(S).verdict is Verdict.CLEAN
    assert verifier.verdict(S + 1).verdict is Verdict.NO_EVIDENCE


def test_defect_deploy_ignores_blue_health_calls_silence_clean() -> None:
    verifier = Verifier(VerifierConfig(defects=(Defect.DEPLOY_IGNORES_BLUE_HEALTH,)))
    pair(verifier, out("e1", 0), out("e1", 0))

    assert verifier.verdict(60 * S).verdict is Verdict.CLEAN


@given(st.lists(st.integers(0, 20 * S), min_size=1, max_size=20), st.integers(0, 10 * S))
def test_agreeing_outputs_are_clean_exactly_while_the_newest_is_within_the_window(times: list[int],
                                                                                   after: int) -> None:
    verifier = Verifier()
    for n, t_ns in enumerate(sorted(times)):
        pair(verifier, out(f"e{n}", t_ns), out(f"e{n}", t_ns))
    now = max(times) + after

    expected = Verdict.CLEAN if after <= 5 * S else Verdict.NO_EVIDENCE
    assert verifier.verdict(now).verdict is expected
