"""A step of a failure path (ending a run, cleaning up, recording a summary) must not fail in turn: the thing
that broke may be the tracker itself. `guarded` runs such a step and turns its error into a warning."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def guarded(what: str, step: Callable[..., T], *args: object) -> T | None:
    """`step(*args)`, or None after printing `warning: could not <what>: <error>` on stderr."""
    try:
        return step(*args)
    except Exception as error:
        print(f"warning: could not {what}: {error}", file=sys.stderr)
        return None
