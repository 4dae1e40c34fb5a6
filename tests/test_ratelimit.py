"""vaxeld.ratelimit: token buckets and the log limiter, on a clock the test sets."""

from __future__ import annotations

from vaxeld.ratelimit import LogLimiter, TokenBucket


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(5)] == [True, True, True, False, False]
    now[0] += 0.5  # one more token
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_the_log_limiter_says_how_many_lines_it_dropped() -> None:
    now = [0.0]
    limiter = LogLimiter(rate=0.1, burst=2, clock=lambda: now[0])
    assert [limiter.allow("decode") for _ in range(5)] == [0, 0, None, None, None]
    now[0] += 10  # one line's worth later
    assert limiter.allow("decode") == 3
    assert limiter.allow("handler") == 0  # kinds are counted apart


def test_the_log_limiter_keeps_a_bounded_number_of_kinds() -> None:
    limiter = LogLimiter(rate=0.0, burst=1, max_kinds=3)
    allowed = [limiter.allow(f"kind{n}") for n in range(10)]
    assert allowed[:3] == [0, 0, 0] and allowed[3] == 0  # "other" gets one bucket
    assert allowed[4:] == [None] * 6
