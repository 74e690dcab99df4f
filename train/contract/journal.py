"""The files a job leaves for the record in output/data/smlaunch/ (inside output.tar.gz on SageMaker).

`metrics.jsonl`: every point the task logged, one JSON line each (`[key, value, timestamp ms, step]`), kept
whatever the tracker did. `pending.json`: work the job could not hand to the tracker before it ended (how many
points, the model's name). `ended.json`: written when the task returned; a job that ends without it never
finished its task (killed, `os._exit`, a crash in native code), whatever its exit code says. Whoever ends the
run replays from these: the job itself, the launcher for local jobs, `smlaunch status` from a cloud job's
output. Stdlib only.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.contract.files import private_dir, write_atomically


@dataclass(frozen=True)
class Point:
    key: str
    value: float
    timestamp: int  # milliseconds since the epoch, fixed when logged: a resend is the same point
    step: int


class Journal:
    """Every point ever logged, one JSON line each, appended as the task logs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, points: Iterable[Point]) -> None:
        lines = "".join(json.dumps([p.key, _encode(p.value), p.timestamp, p.step]) + "\n" for p in points)
        if not lines:
            return
        with self._lock:
            private_dir(self.path.parent)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)

    def read(self) -> list[Point]:
        if not self.path.exists():
            return []
        points = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                key, value, timestamp, step = json.loads(line)
                points.append(Point(str(key), float(value), int(timestamp), int(step)))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash
        return points


def _encode(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # JSON has no NaN/inf


def missing(points: Iterable[Point], held: Mapping[str, set[int]]) -> list[Point]:
    """The points whose (metric, step) the run does not hold yet, each once (the first logged)."""
    seen: set[tuple[str, int]] = set()
    found = []
    for point in points:
        if point.step in held.get(point.key, ()) or (point.key, point.step) in seen:
            continue
        seen.add((point.key, point.step))
        found.append(point)
    return found


def last_step(points: Iterable[Point]) -> int | None:
    """The highest step the task logged, or None before its first point."""
    return max((point.step for point in points), default=None)


def read_marker(path: Path) -> dict[str, Any]:
    """A small JSON record file (pending.json, ended.json) as a dict; {} when absent or unreadable."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def update_marker(path: Path, **values: Any) -> None:
    """Set `values` in a record file (a None value removes its key; an empty record removes the file)."""
    found = read_marker(path)
    for key, value in values.items():
        if value is None:
            found.pop(key, None)
        else:
            found[key] = value
    if found:
        write_atomically(path, json.dumps(found))
    else:
        path.unlink(missing_ok=True)
