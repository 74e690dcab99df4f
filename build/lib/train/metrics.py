"""Metrics that survive a tracker outage: checked at the call, journaled to disk, sent from a background thread.

`log` never waits for the network: it validates the points (a bad name fails the call that made it, not a
batch of good points later), appends them to a journal file in the job's output dir, and hands them to a
sender thread that batches them into `log_batch` calls, retrying with backoff while the tracker is down.
Memory is bounded: past `capacity` pending points, new points live only in the journal, which is replayed
(`replay_journal`) when the sender catches up, at the end of the job, or by the launcher afterwards.

Resending is idempotent: a point keeps the timestamp it was logged with, and MLflow's SQL stores keep one row
per (key, step, timestamp, value). Steps a run already holds from before a restart are skipped (`skip`).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.retry import backoff

KEY_PATTERN = re.compile(r"^[/\w.\- :]+$")  # MLflow's rule for metric (and param) names
KEY_LIMIT = 250
BATCH_LIMIT = 1000  # MLflow takes at most 1000 metrics per log_batch call
SEND_EVERY_SECONDS = 2.0
SEND_AT_POINTS = 500
CAPACITY = 100_000
JOURNAL_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class Point:
    key: str
    value: float
    timestamp: int  # milliseconds since the epoch, fixed when logged
    step: int


def checked(metrics: Mapping[str, Any], step: int) -> list[Point]:
    """Points for `metrics` at `step`, or ValueError naming the first bad name or value."""
    if not isinstance(step, int) or isinstance(step, bool):
        raise ValueError(f"metric step must be an integer, not {step!r}")
    now = int(time.time() * 1000)
    points = []
    for key, value in metrics.items():
        if not isinstance(key, str) or not KEY_PATTERN.match(key) or len(key) > KEY_LIMIT:
            raise ValueError(f"invalid metric name {key!r}: use up to {KEY_LIMIT} letters, digits and _ - . / : "
                             "or spaces")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {key!r} must be a number, not {value!r}") from None
        points.append(Point(key, number, now, step))
    return points


class Journal:
    """Every point ever logged, one JSON line each, in the job's output dir (packed into output.tar.gz)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, points: Iterable[Point]) -> None:
        lines = "".join(json.dumps([p.key, _encode(p.value), p.timestamp, p.step]) + "\n" for p in points)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)

    def read(self) -> list[Point]:
        if not self.path.exists():
            return []
        points = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                key, value, timestamp, step = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            points.append(Point(key, _decode(value), timestamp, step))
        return points


def _encode(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # JSON has no NaN/inf


def _decode(value: float | str) -> float:
    return float(value)


Send = Callable[[list[Point]], None]


class MetricSender:
    """Sends points in batches from a daemon thread; `close` waits for them until a deadline."""

    def __init__(self, send: Send, journal: Journal, capacity: int = CAPACITY) -> None:
        self._send = send
        self.journal = journal
        self._capacity = capacity
        self._pending: deque[Point] = deque()
        self._overflowed = False
        self._closing = False
        self._wake = threading.Condition()
        self.sent = 0
        self.skip: dict[str, set[int]] = {}  # steps a resumed run already holds, per metric
        self.ready: Callable[[], bool] = lambda: True  # e.g. "the run has been resumed"
        self._thread = threading.Thread(target=self._run, name="smlaunch-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, points: list[Point]) -> None:
        points = [p for p in points if p.step not in self.skip.get(p.key, ())]
        self.journal.append(points)
        with self._wake:
            if len(self._pending) + len(points) > self._capacity:
                self._overflowed = True  # they are in the journal; replayed once the backlog is sent
            else:
                self._pending.extend(points)
            if len(self._pending) >= SEND_AT_POINTS:
                self._wake.notify()

    @property
    def backlog(self) -> int:
        with self._wake:
            return len(self._pending) + (1 if self._overflowed else 0)

    def close(self, deadline: float) -> int:
        """Stop accepting, send what is pending until `deadline` (monotonic); return how many were not sent."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        return self.backlog

    def _run(self) -> None:
        failures = 0
        while True:
            with self._wake:
                if not self._closing and len(self._pending) < SEND_AT_POINTS:
                    self._wake.wait(SEND_EVERY_SECONDS)
                if self._overflowed and not self._pending:
                    self._refill_from_journal()
                batch = [self._pending[i] for i in range(min(BATCH_LIMIT, len(self._pending)))]
                if not batch and self._closing:
                    return
            if not batch:
                continue
            try:
                if not self.ready():
                    raise ConnectionError("the run is not resumed yet")
                self._send(batch)
            except Exception:
                time.sleep(backoff(failures))
                failures += 1
                continue
            failures = 0
            with self._wake:
                for _ in batch:
                    self._pending.popleft()
                self.sent += len(batch)

    def _refill_from_journal(self) -> None:
        """After an overflow: everything journaled goes out again (idempotent: same timestamps)."""
        self._overflowed = False
        self._pending.extend(p for p in self.journal.read() if p.step not in self.skip.get(p.key, ()))


def logged_steps(history: Callable[[str], Iterable[int]], keys: Iterable[str]) -> dict[str, set[int]]:
    """{metric: steps the run holds}, from `history(key)` (e.g. MlflowClient.get_metric_history)."""
    return {key: set(history(key)) for key in keys}


def replay_journal(tracking_uri: str, run_id: str, journal_path: Path) -> int:
    """Send the journal's points the run does not hold yet (by metric and step); return how many were sent."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=tracking_uri)
    points = Journal(journal_path).read()
    held = logged_steps(lambda key: (m.step for m in client.get_metric_history(run_id, key)),
                        {p.key for p in points})
    missing = [p for p in points if p.step not in held[p.key]]
    for start in range(0, len(missing), BATCH_LIMIT):
        batch = missing[start : start + BATCH_LIMIT]
        client.log_batch(run_id, metrics=[Metric(p.key, p.value, p.timestamp, p.step) for p in batch])
    return len(missing)
