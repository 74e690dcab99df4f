"""Pipe-mode channels on this machine, as SageMaker presents them: a FIFO /opt/ml/input/data/<channel>_0 that
streams the channel's files, in key order, once (epoch 0).

The tree holds the FIFO and, beside the data dir, the channel's own copy of the files; a feeder thread per
channel and host waits for the task to open the FIFO for reading, writes the files into it, and closes it (end
of the stream). A task that never opens it leaves the feeder waiting until the job ends.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

from train.contract.paths import ContainerPaths

PIPE_MODE = "Pipe"
EPOCH = 0


def pipe_channels(request: dict[str, Any]) -> list[str]:
    return [c["ChannelName"] for c in request["InputDataConfig"] if c.get("InputMode") == PIPE_MODE]


def pipe_path(paths: ContainerPaths, channel: str) -> Path:
    return paths.data_dir / f"{channel}_{EPOCH}"


def staged_files(paths: ContainerPaths, channel: str) -> Path:
    """Where the channel's files wait to be streamed (outside input/data: a Pipe channel has no directory)."""
    return paths.base / "pipes" / channel


def make_pipe(paths: ContainerPaths, channel: str) -> None:
    fifo = pipe_path(paths, channel)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)


def start_feeders(request: dict[str, Any], trees: dict[str, ContainerPaths], done: threading.Event
                  ) -> list[threading.Thread]:
    """One daemon thread per (host, Pipe channel), each streaming the channel once when a reader opens it."""
    feeders = []
    for paths in trees.values():
        for channel in pipe_channels(request):
            feeder = threading.Thread(target=_feed, args=(pipe_path(paths, channel), staged_files(paths, channel),
                                                          done), daemon=True, name=f"pipe-{channel}")
            feeder.start()
            feeders.append(feeder)
    return feeders


def _feed(fifo: Path, files: Path, done: threading.Event) -> None:
    while not done.is_set():
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: no reader yet
                return
            time.sleep(0.1)
            continue
        os.set_blocking(descriptor, True)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                for path in sorted(p for p in files.rglob("*") if p.is_file()):
                    with path.open("rb") as source:
                        while block := source.read(1 << 20):
                            stream.write(block)
        except BrokenPipeError:  # the task stopped reading: that is its call
            pass
        return
