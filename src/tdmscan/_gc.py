"""Garbage-collector settings for bulk work (an audit and its fetch process)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Generation-0 threshold during bulk work (CPython's default is 700 allocations).
BULK_THRESHOLD = (50_000, 20, 100)


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Fewer and cheaper cyclic collections while millions of short-lived objects churn.

    With the default thresholds, collections took about a fifth of a bulk fetch's CPU, mostly
    re-scanning objects that live for the whole run (modules, the agent catalogue, caches).
    Those are frozen out of collection (``gc.freeze``) and generation 0 runs every 50,000
    allocations instead of 700. Reference counting still frees everything acyclic at once,
    so memory only grows by the cycles awaiting the next, rarer collection.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BULK_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
