"""Pausing Python's cyclic garbage collector around bounded bulk work.

A page of the projection engine, or a report over a whole book, makes a few container objects
per event or per loan, all freed by reference counting when the work is done. While they are
live, though, each young-generation collection promotes them, and the promotions trigger full
collections that walk every object the process holds: in a process with big caches (a
long-running application, a benchmark after others) those cost a third of a rebuild, and more
than building a 100,000-loan report itself (B5). Cyclic garbage made meanwhile waits for the next
collection, after the work.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Within this block the cyclic collector does not run. It is resumed only if it was
    running before (a `gc.disable()` elsewhere stays), so blocks nest."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
