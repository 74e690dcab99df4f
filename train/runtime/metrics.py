"""Metrics that survive a tracker outage: checked at the call, journaled to disk, sent from a background thread.

`log` never waits for the network. It checks the points against MLflow's rules (train.contract.mlflow_rules):
a metric whose name MLflow refuses is dropped, said once, and never reaches the tracker, so it cannot block the
points after it; a value that is not a number fails the call that logged it. The rest are appended to the
journal (train.contract.journal) and handed to a sender thread that batches them into `log_batch` calls,
retrying with backoff what may succeed later (a dead connection, a 5xx). A batch the tracker refuses for good
(a 400) is split until the point it refuses is found; that point is dropped and said, the others are sent.
Memory is bounded: past `capacity` pending points, new points live only in the journal, which is replayed
when the sender catches up, at the end of the job, or by whoever settles the run afterwards.

Resending is idempotent: a point keeps the timestamp it was logged with, and MLflow's SQL stores keep one row
per (key, step, timestamp, value). Steps a run already holds from before a restart are skipped (`skip`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from train.contract.journal import Journal, Point
from train.contract.mlflow_rules import MAX_METRICS_PER_BATCH, name_problem
from train.runtime import stops
from train.runtime.retry import backoff, http_status, retryable

SEND_EVERY_SECONDS = 2.0
SEND_AT_POINTS = 500
CAPACITY = 100_000


def checked(metrics: Mapping[str, Any], step: int) -> tuple[list[Point], dict[str, str]]:
    """(points for `metrics` at `step`, {refused name: why}); ValueError for a step or value that is no number."""
    if not isinstance(step, int) or isinstance(step, bool):
        raise ValueError(f"metric step must be an integer, not {step!r}")
    now = int(time.time() * 1000)
    points, refused = [], {}
    for key, value in metrics.items():
        problem = name_problem(key)
        if problem is not None:
            refused[str(key)] = problem
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {key!r} must be a number, not {value!r}") from None
        points.append(Point(key, number, now, step))
    return points, refused


Send = Callable[[list[Point]], None]
Refused = Callable[[Point, BaseException], None]


class MetricSender:
    """Sends points in batches from a daemon thread; `close` waits for them until a deadline."""

    def __init__(self, send: Send, journal: Journal, capacity: int = CAPACITY,
                 refused: Refused = lambda point, error: None) -> None:
        self._send = send
        self._refused = refused
        self.journal = journal
        self._capacity = capacity
        self._pending: deque[Point] = deque()
        self._overflowed = False
        self._closing = False
        self._wake = threading.Condition()
        self.sent = 0
        self.skip: dict[str, set[int]] = {}  # steps a resumed run already holds, per metric
        self.dropped: set[str] = set()  # metrics the tracker refuses: never sent again
        self.ready: Callable[[], bool] = lambda: True  # e.g. "the run has been resumed"
        self.failed_for_good: BaseException | None = None  # the tracker refuses the job itself (401, 403, 404)
        self._thread = threading.Thread(target=self._run, name="smlaunch-metrics", daemon=True)

    def start(self) -> None:
        stops.start_helper(self._thread)

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
                batch = [self._pending[i] for i in range(min(MAX_METRICS_PER_BATCH, len(self._pending)))]
                if not batch and self._closing:
                    return
            if not batch:
                continue
            try:
                if not self.ready():
                    raise ConnectionError("the run is not resumed yet")
                deliver(self._send, batch, self._refused, self.dropped)
            except Exception as error:
                if not retryable(error):  # the tracker refuses the job, not a point: nothing will get through
                    self.failed_for_good = error
                    return
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


def deliver(send: Send, batch: list[Point], refused: Refused, dropped: set[str]) -> None:
    """Send `batch` but for the metrics in `dropped`; when the tracker refuses it for good, send its halves, down
    to the point it refuses: that metric is dropped (added to `dropped`, handed to `refused`), and its other
    points are not sent. Raises what may succeed later, and a refusal of the job as a whole."""
    batch = [point for point in batch if point.key not in dropped]
    if not batch:
        return
    try:
        send(batch)
    except Exception as error:
        if retryable(error) or http_status(error) in (401, 403, 404):  # credentials or the run, not a point
            raise
        if len(batch) == 1:
            dropped.add(batch[0].key)
            refused(batch[0], error)
            return
        middle = len(batch) // 2
        deliver(send, batch[:middle], refused, dropped)
        deliver(send, batch[middle:], refused, dropped)
