"""Run one training job inside the container: resume the run, read the contract, call the task, report.

The run is resumed first, before anything else can fail, so every later failure can be recorded on it. One
try/except separates the endings, and none of them is left to MLflow's exit hook:
  the task returned            → `ended.json` written, metrics flushed, run FINISHED, exit 0
  the task (or setup) raised   → /opt/ml/output/failure (reason first: SageMaker shows its first 1024
                                 characters as FailureReason), run FAILED with the reason, exit 1
  SIGTERM (StopTrainingJob, MaxRuntimeInSeconds, a spot reclaim, Ctrl-C or a dead launcher locally)
                               → a resumable (spot) job keeps its run RUNNING for the restart, which resumes
                                 from its own last checkpoint; otherwise failure file + run KILLED; exit 143
A process that ends any other way (killed, `os._exit`, a crash in native code) never writes `ended.json`, so
whoever settles the run afterwards knows the task did not finish. The failure path cannot fail in turn: each
step is guarded. The task itself (data + model) lives elsewhere and knows nothing of this.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

from train.api.context import TaskContext
from train.contract.handover import RESUMABLE_ENV
from train.contract.journal import update_marker
from train.contract.paths import ContainerPaths, TrainingEnvironment
from train.contract.startup import imports_without_gc
from train.contract.timeline import mark
from train.runtime import stops
from train.runtime.checkpoints import Checkpoints
from train.runtime.distributed import Distributed, failure_reason
from train.runtime.failure import describe, details, warn, write_failure
from train.runtime.orphan import LAUNCHER_DIED, launcher_died
from train.runtime.secrets import SecretUnavailable, resolve_into
from train.runtime.toolkit_env import toolkit_variables
from train.runtime.tracking import RunTracker
from train.runtime.tuning import apply_tuned, tuned_values

EXIT_FAILURE = 1
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM (or SIGINT) reached the container: SageMaker is stopping the job (or, locally, the launcher is
    gone)."""

    def __init__(self, signum: int, orphaned: bool = False) -> None:
        super().__init__(signum)
        self.orphaned = orphaned
        self.reason = LAUNCHER_DIED if orphaned else (
            f"Terminated: the job received {signal.Signals(signum).name} (stopped, out of time, or reclaimed)")


class TaskImportError(Exception):
    """The task's module raised while it was imported: the reason names the module and where it raised."""

    def __init__(self, module_name: str, error: BaseException) -> None:
        super().__init__(module_name)
        frames = traceback.extract_tb(error.__traceback__)
        package = module_name.split(".")[0]
        own = [frame for frame in frames if f"/{package}/" in frame.filename.replace("\\", "/")]
        where = f" at {_short(own[-1].filename, package)}:{own[-1].lineno}" if own else ""
        self.reason = f"importing the task {module_name} failed{where}: {describe(error)}"


def _short(filename: str, package: str) -> str:
    """A traceback file name from the package's directory on (train/churn/task.py), as the user knows it."""
    parts = filename.replace("\\", "/").split("/")
    return "/".join(parts[len(parts) - 1 - parts[::-1].index(package):]) if package in parts else filename


def load_task(reference: str) -> Callable[[TaskContext], None]:
    """Import 'package.module:function'."""
    module_name, _, function_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise TaskImportError(module_name, error) from error
    task: Callable[[TaskContext], None] = getattr(module, function_name)
    return task


def read_training_config(paths: ContainerPaths) -> dict[str, Any]:
    import yaml

    config_file = paths.training_config_file
    if not config_file.exists():
        raise FileNotFoundError(f"training config not found at {config_file} (is the 'config' channel set?)")
    with config_file.open(encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    if not isinstance(config, dict) or not config.get("task"):
        raise ValueError(f"{config_file} names no task (expected `task: package.module:function`)")
    return config


def record_failure(paths: ContainerPaths, error: BaseException, dist: Distributed | None = None) -> str:
    """Write the failure file (the reason, then the traceback) and return the reason. Never raises."""
    reason = describe(error)
    if dist is not None:
        reason = failure_reason(dist, reason, error)
    write_failure(paths, reason, "" if isinstance(error, Terminated) else details(error))
    return reason


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the ending below is bounded; a second SIGTERM must not cut it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise Terminated(signum, orphaned=launcher_died(ContainerPaths.from_env()))


def _resolve_secrets() -> SecretUnavailable | None:
    """Read the job's secret references into its environment; a failure is reported once the run is resumed
    (resuming may still work: not every secret is the tracker's)."""
    try:
        resolve_into(os.environ)
    except SecretUnavailable as error:
        return error
    return None


def _environment(paths: ContainerPaths) -> tuple[TrainingEnvironment | None, BaseException | None]:
    try:
        return TrainingEnvironment.read(paths), None
    except Exception as error:  # a broken input/config file: reported once the run is resumed
        return None, error


def run_job(paths: ContainerPaths) -> int:
    """Run the job; return the process exit code."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, _raise_terminated)
    env, broken = _environment(paths)
    dist = Distributed.from_environment(os.environ)
    checkpoints = Checkpoints(paths.checkpoints_dir, writer=dist.is_primary)
    unresolved = _resolve_secrets()  # the tracker may need them (MLFLOW_TRACKING_PASSWORD ...)
    records = (env is None or env.is_primary) and dist.is_primary  # one run, one writer: global rank 0
    tracker = RunTracker.from_environment(paths, enabled=records)
    try:
        with imports_without_gc():  # mlflow, its store, the task's module and torch load ≈1 s faster
            with stops.held():  # a stop during the resume (or mlflow's import) is taken right after it
                tracker.start(restarted=checkpoints.exists())
            checkpoints.owner = tracker.run_id or checkpoints.owner  # a tuning trial's run exists only now
            if unresolved is not None:
                raise unresolved
            if broken is not None or env is None:
                raise RuntimeError(f"cannot read {paths.input_config_dir}: {broken}")
            for name, value in toolkit_variables(env).items():
                os.environ.setdefault(name, value)  # where the toolkit itself runs, its values stand
            config = apply_tuned(read_training_config(paths), tuned_values(env.hyperparameters))  # a trial's
            task = load_task(str(config["task"]))
        if dist.under_torchrun:
            dist.start()
        mark("task_start")
        task(TaskContext(config=config, env=env, tracker=tracker, checkpoints=checkpoints, dist=dist))
        update_marker(paths.ended_file, task="returned")
        if dist.under_torchrun:
            dist.write_summary(paths.record_dir, env.current_host)
            dist.stop()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finishing is bounded by the flush deadline
        tracker.finish()
        return 0
    except Terminated as stop:
        if os.environ.get(RESUMABLE_ENV) == "true" and not stop.orphaned:  # a spot reclaim: SageMaker restarts it
            kept = f"checkpoint of step {checkpoints.saved_step} kept" if checkpoints.exists() else "no checkpoint yet"
            warn(f"{stop.reason}; {kept}: the restarted job resumes this run")
            tracker.suspend()
        else:
            tracker.fail(record_failure(paths, stop, dist), killed=True)
        return EXIT_TERMINATED
    except BaseException as error:
        reason = record_failure(paths, error, dist)
        with contextlib.suppress(Exception):  # once, here in the job's log; the reason alone goes on the run
            traceback.print_exception(error, file=sys.stderr)
        warn(f"training failed: {reason}")
        tracker.fail(reason)
        return EXIT_FAILURE


def main() -> None:
    """Console entry point. Once run_job has ended the run, written every file and flushed every point it
    could, the process leaves without Python's teardown: finalizing the ~3,000 modules torch and mlflow load
    takes over a second and has nothing left to do. The task's own exit handlers (atexit) still run."""
    code = run_job(ContainerPaths.from_env(os.environ))
    leave(code)


def leave(code: int) -> None:
    """Exit now, after the exit handlers the task registered and a flush of what this process printed."""
    mark("container_exit")
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
