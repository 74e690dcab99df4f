"""What a task author imports: the context a task receives (`TaskContext`) and, for a task's own tests,
`train.api.testing.run_locally`. Everything else in `train/` is the launcher's contract or the runtime's."""

from __future__ import annotations

from train.api.context import TaskContext

__all__ = ["TaskContext"]
