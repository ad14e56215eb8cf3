"""Garbage-collector settings for the local runtime's long-running processes (this engine, and the
local profile's function hosts).

The per-record work allocates many small containers that die young (freed by reference counting),
yet CPython's cyclic collector runs a young collection every 700 allocations and, as survivors
pile up, full collections that walk every object the process holds: the loaded modules, the model,
the clients. Measured in the score function's loop: ~20 us of collector time per record, more than
any single step of the handler. After the init phase, what init built is moved out of the
collector's view (gc.freeze, as a pre-forking server does) and young collections run less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def settle_after_init() -> None:
    """Call once the process has built its long-lived objects, before its loop starts."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
