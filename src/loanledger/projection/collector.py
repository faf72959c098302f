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
from collections.abc import Callable, Iterator
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


YOUNG_COLLECTION_PAGES = 16
"""Pages between collections of the young generations in `collector_paused_for_pages`."""

FULL_COLLECTION_PAGES = 64
"""Pages between full collections in `collector_paused_for_pages`."""


@contextmanager
def collector_paused_for_pages(
    young_every: int = YOUNG_COLLECTION_PAGES, full_every: int = FULL_COLLECTION_PAGES
) -> Iterator[Callable[[], None]]:
    """`collector_paused` for a run of pages (a catch-up, a rebuild): the collector stays paused
    throughout, and the block calls the function it is given after each page, which collects
    the young generations every `young_every` pages and everything every `full_every` pages.
    With the collector resumed after each page, the objects a page leaves alive (the loans the
    projections keep, which each page partly renews) set off a collection after every page, and
    often a full one: ~6 % of a rebuild of the demo's 2,000-loan book. Collected less often,
    most of them have been freed (by reference counting) before a collection walks them; cyclic
    garbage waits a few pages. Nothing is collected if the collector was not running before."""
    was_enabled = gc.isenabled()
    gc.disable()
    pages = 0

    def page_done() -> None:
        nonlocal pages
        if not was_enabled:
            return
        pages += 1
        if pages % full_every == 0:
            gc.collect()
        elif pages % young_every == 0:
            gc.collect(1)

    try:
        yield page_done
    finally:
        if was_enabled:
            gc.enable()
