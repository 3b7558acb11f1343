"""The client-side order throttle: a token bucket that keeps below the venue's sliding-window limit."""

from __future__ import annotations

from collections import deque

import pytest

from trading_stack.order_throttle import OrderThrottle, PublishedRateLimit, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _most_in_any_window(times: list[float], window_s: float) -> int:
    window: deque[float] = deque()
    most = 0
    for t in times:
        window.append(t)
        while window[0] <= t - window_s:
            window.popleft()
        most = max(most, len(window))
    return most


def test_no_published_limit_admits_everything() -> None:
    throttle = OrderThrottle(None, FakeClock())
    assert all(throttle.refusal() is None for _ in range(10_000))
    assert throttle.refused == 0


def test_a_burst_takes_the_bucket_then_is_refused_with_the_limit_named() -> None:
    clock = FakeClock()
    throttle = OrderThrottle(PublishedRateLimit(max_orders=50, window_s=1.0), clock)
    answers = [throttle.refusal() for _ in range(20)]
    assert answers[:10] == [None] * 10  # a fifth of the limit at once
    assert all(answer is not None and "50 new orders per 1 s" in answer for answer in answers[10:])
    assert throttle.refused == 10
    clock.now += 0.1  # 37.5 tokens a second: three more
    assert [throttle.refusal() is None for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize(("max_orders", "window_s"), [(60, 1.0), (5, 1.0), (2, 0.5), (1, 2.0), (1000, 10.0)])
def test_a_sender_as_fast_as_it_can_never_exceeds_the_venue_window(max_orders: int, window_s: float) -> None:
    clock = FakeClock()
    throttle = OrderThrottle(PublishedRateLimit(max_orders=max_orders, window_s=window_s), clock)
    sent = []
    for _ in range(200_000):  # a try every 0.1 ms for 20 s
        if throttle.refusal() is None:
            sent.append(clock.now)
        clock.now += 0.0001
    assert _most_in_any_window(sent, window_s) <= max_orders
    assert len(sent) >= 0.7 * max_orders * 20 / window_s  # and it still sends near the limit


def test_the_bucket_refills_at_its_rate_up_to_its_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket.full(capacity=3, rate_per_s=2, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 10  # refilled to the capacity, not 20
    assert sum(bucket.take() for _ in range(10)) == 3
