"""Process-wide settings of the garbage collector for long-running Segue processes."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Take every object alive now out of the cyclic collector's scans.

    A set-up process holds hundreds of thousands of long-lived objects
    (modules, the ORM's metadata, compiled pipelines) that the collector would
    otherwise walk on every full collection, while the work itself allocates
    many short-lived ones and keeps triggering collections. ``segue serve`` and
    ``segue worker`` call this once they are set up; an application embedding
    Segue can call it after its own start-up. Frozen objects are never freed,
    so call it once, not per request.
    """
    gc.collect()
    gc.freeze()
