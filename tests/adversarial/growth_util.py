"""Growth-bounded timing: how much longer a parser takes on 4x the input, not how long."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def assert_near_linear(
    run: Callable[[int], object], n: int, *, factor: int = 4, slack: float = 3.0
) -> None:
    """``run(factor * n)`` may take at most ``slack * factor`` times ``run(n)`` (plus 50 ms
    for timer and cache noise). Linear work grows ``factor``-fold, quadratic ``factor**2``:
    with factor 4 and slack 3 the bound is 12x, which a quadratic algorithm (16x) exceeds
    and a linear one on a busy two-core machine stays well under."""
    small = best_time(lambda: run(n))
    large = best_time(lambda: run(factor * n))
    assert large <= slack * factor * small + 0.05, (
        f"{factor}x input took {large / max(small, 1e-9):.1f}x as long "
        f"({small * 1e3:.1f} ms -> {large * 1e3:.1f} ms): super-linear"
    )
