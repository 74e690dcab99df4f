"""Start a process fast: load its libraries with CPython's cyclic garbage collector paused. Stdlib only.

Importing torch, mlflow and mlflow's SQL store creates about a million objects, and the collector's full
passes over them while they load cost 0.5–1 s of every job's start (and of the launcher's `import mlflow`).
Nothing they create at import time is garbage, so `imports_without_gc` pauses the collector for the loading,
then freezes what exists (`gc.freeze`: those objects stay out of every later pass; they live as long as the
process anyway) and turns it back on. The task itself runs with the collector as usual.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def imports_without_gc() -> Iterator[None]:
    """Pause the cyclic GC for a block of imports; afterwards freeze what they made and resume it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
