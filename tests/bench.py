"""`make bench`: measure whole-process wall times that matter to users. Prints medians; asserts nothing.

  validate        `smlaunch validate configs/local.yaml` (goal ≤ 0.3 s); `run --dry-run` beside it
  billion laughs  `smlaunch validate` of a config whose training config is an alias bomb: refused, with
                  wall time (goal < 1 s) and the process's peak RSS from wait4 (goal < 100 MB)
  smoke run       `smlaunch run configs/local.yaml` on a warm sqlite store, with its timeline (SMLAUNCH_TIMELINE:
                  the launcher and the host mark fixed points) and two floors measured in the same run:
                  the issue's (`python -c "import torch, mlflow"` + the epochs themselves) and the bare task
                  (the same training with no launcher, no tracking: imports, data, model, optimizer, epochs)
  container       the same smoke run in the training image (local-container), when a Docker engine and
                  the image build work here; else says why not
  config size     `validate` and `run --dry-run` of generated detectron2-like configs of 20 and 1,000 keys
                  measured side by side (goal: 1,000 keys ≤ 2x the 20-key time), and `validate` of 10,000 keys
                  (goal < 3 s)
  tracker outage  a task logging 1,000 points through a proxy in front of a loopback MLflow server: its
                  training loop's seconds calm, and through dropped batches, 503s and a 4 s outage
                  (goal: within 10 % of calm; training never waits for the tracker)
  2 hosts         the smoke run on 2 hosts under torchrun (one process each), beside 1 host
  sweep           configs/sweeps/digits-grid.yaml (4 trials, 2 at once) against the same trials one at a time
  cloud launch    `smlaunch run` of a SageMaker config against a loopback moto server and a loopback MLflow
                  server (a SageMaker job cannot use a sqlite store, so the bench uses a server): from command
                  start until CreateTrainingJob is sent (the report's `submitted_at`; goal ≤ 1.5 s), and the
                  whole command, which also tags the run with the job's links and exits

Run as `python -m tests.bench` (make bench).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMLAUNCH = [sys.executable, "-m", "launcher"]


def wall_times(command: Sequence[str], repeats: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def report(name: str, times: list[float], goal: float | None) -> None:
    median = statistics.median(times)
    verdict = "no goal" if goal is None else f"goal ≤ {goal} s: {'ok' if median <= goal else 'OVER GOAL'}"
    spread = f"min {min(times):.2f} s, max {max(times):.2f} s"
    print(f"{name:<36} median {median:6.2f} s over {len(times)} runs ({spread}); {verdict}")


def time_and_peak_memory(command: Sequence[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one run of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, process.returncode


def billion_laughs(root: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (root / "configs" / "train" / "bomb.yaml").write_text("\n".join(lines) + "\n")
    job = (root / "configs" / "local.yaml").read_text().replace("train/digits.yaml", "train/bomb.yaml")
    (root / "configs" / "bomb-job.yaml").write_text(job)
    samples = [time_and_peak_memory([*SMLAUNCH, "validate", "configs/bomb-job.yaml"], root) for _ in range(5)]
    assert all(code == 2 for _, _, code in samples), "the alias bomb was not refused"
    wall = statistics.median(sample[0] for sample in samples)
    peak = max(sample[1] for sample in samples)
    verdict = "ok" if wall < 1 and peak < 100 else "OVER GOAL"
    print(f"{'billion laughs refused':<36} median {wall:6.2f} s, peak RSS {peak:.0f} MB over 5 runs; "
          f"goal < 1 s and < 100 MB: {verdict}")


def scratch_project(root: Path) -> Path:
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "train", root / "train", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "data" / "digits", root / "data" / "digits")
    return root


STRETCHES = (  # (name, from event, to event) of the smoke run's timeline
    ("launcher before host start", "start", "host_start"),
    ("host imports, resume, config", "host_start", "task_start"),
    ("task setup + 1st epoch", "task_start", "first_metrics"),
    ("epochs 2..N", "first_metrics", "last_metrics"),
    ("after training (plots, model, end)", "last_metrics", "container_exit"),
    ("exit (report, launcher exit)", "container_exit", "end"),
)


def timed_run(command: Sequence[str], cwd: Path, timeline: Path) -> dict[str, float]:
    """One run with SMLAUNCH_TIMELINE set: each event's seconds since the command started (and `end`)."""
    timeline.unlink(missing_ok=True)
    started_wall, started = time.time(), time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "SMLAUNCH_TIMELINE": str(timeline)})
    events = {"start": 0.0, "end": time.perf_counter() - started}
    for line in timeline.read_text().splitlines():
        stamp, name = line.split()
        seconds = float(stamp) - started_wall
        if name == "metrics":
            events.setdefault("first_metrics", seconds)
            events["last_metrics"] = seconds
        else:
            events.setdefault(name, seconds)
    if "container_exit" not in events:
        events["container_exit"] = events["last_metrics"]
    return events


def floors(project: Path, repeats: int, epoch_seconds: float, epochs: int) -> tuple[float, float]:
    """(issue's floor, bare task) medians: imports + the epochs alone; the same training with nothing around."""
    imports = statistics.median(wall_times([sys.executable, "-c", "import torch, mlflow"], repeats, project))
    bare = statistics.median(wall_times([sys.executable, "-c", BARE_TASK], repeats, project))
    return imports + epoch_seconds * epochs, bare


BARE_TASK = """
import torch, mlflow, yaml
from pathlib import Path
from train.digits.data import load_split
from train.digits.model import build_mlp, build_optimizer
from train.digits import task
config = yaml.safe_load(Path("configs/train/digits.yaml").read_text())
generator = task.seed_everything(config["seed"], config["num_threads"])
train = load_split(Path("data/digits/train.npz"))
validation = load_split(Path("data/digits/validation.npz"))
network = build_mlp(config["model"]["hidden_sizes"], config["model"]["dropout"])
optimizer = build_optimizer(network, config["optimizer"])
for epoch in range(config["epochs"]):
    task.train_epoch(network, optimizer, train, config["batch_size"], generator, task.Distributed())
    task.evaluate(network, validation)
"""


def smoke_timeline(project: Path, repeats: int) -> float:
    run = [*SMLAUNCH, "run", "configs/local.yaml"]
    wall_times(run, 1, project)  # warm-up: creates the sqlite store (schema migrations, ~2 s once)
    timeline = project / "timeline.txt"
    samples = [timed_run(run, project, timeline) for _ in range(repeats)]
    total = statistics.median(sample["end"] for sample in samples)
    epochs = 20
    epoch_seconds = statistics.median((s["last_metrics"] - s["first_metrics"]) / (epochs - 1) for s in samples)
    issue_floor, bare = floors(project, repeats, epoch_seconds, epochs)
    print(f"local smoke run: median {total:.2f} s over {repeats} runs (min {min(s['end'] for s in samples):.2f}, "
          f"max {max(s['end'] for s in samples):.2f}); the timeline, medians:")
    for name, start, end in STRETCHES:
        print(f"    {name:<36} {statistics.median(s[end] - s[start] for s in samples):6.2f} s")
    print(f"  floor (issue #16): import torch, mlflow + {epochs} epochs = {issue_floor:.2f} s -> ratio "
          f"{total / issue_floor:.2f} (goal <= 2: {'ok' if total <= 2 * issue_floor else 'OVER GOAL'})")
    print(f"  floor (bare task, torch.optim's first use included): {bare:.2f} s -> ratio {total / bare:.2f}")
    return total


def container_run(project: Path, repeats: int, local_process: float) -> None:
    """The same smoke run in the training image; needs a Docker engine (started here if none answers)."""
    try:
        from tests.docker_engine import docker_engine, ensure_base_image

        with docker_engine() as host:
            env = {**os.environ, **({"DOCKER_HOST": host} if host else {})}
            base = ensure_base_image(env)
            subprocess.run([str(REPO / "docker/build_and_push.sh"), "--no-push", "-t", "bench", "--base-image", base],
                           env=env, check=True, capture_output=True, timeout=1800)
            run = [*SMLAUNCH, "run", "configs/container.yaml", "--set", "sagemaker.image=smlaunch-train:bench"]
            subprocess.run(run, cwd=project, env=env, check=True, capture_output=True)  # warm-up
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                subprocess.run(run, cwd=project, env=env, check=True, capture_output=True)
                times.append(time.perf_counter() - started)
    except BaseException as error:  # pytest's skip (no engine, no debootstrap) or a failed build
        print(f"local-container smoke run: not measured here ({type(error).__name__}: {str(error)[:200]})")
        return
    median = statistics.median(times)
    verdict = "ok" if median - local_process <= 1.5 else "OVER GOAL"
    print(f"local-container smoke run: median {median:.2f} s over {repeats} runs; {median - local_process:+.2f} s "
          f"over local-process (goal <= +1.5 s: {verdict})")


def hosts_and_sweep(project: Path, repeats: int) -> None:
    run = [*SMLAUNCH, "run", "configs/local.yaml"]
    report("1 host", wall_times(run, repeats, project), None)
    two = [*run, "--set", "sagemaker.instance_count=2", "--set", "distribution.type=torchrun"]
    report("2 hosts (torchrun, 1 process each)", wall_times(two, repeats, project), None)
    sweep = [*SMLAUNCH, "sweep", "configs/sweeps/digits-grid.yaml"]
    parallel = wall_times(sweep, 1, project)[0]
    sequential = wall_times([*sweep, "--set", "max_parallel=1"], 1, project)[0]
    print(f"sweep of 4 trials: {parallel:.2f} s 2 at once, {sequential:.2f} s one at a time "
          f"({sequential / parallel:.2f}x)")


def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "5"))
    print(f"smlaunch bench on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    report("validate", wall_times([*SMLAUNCH, "validate", "configs/local.yaml"], repeats * 3, REPO), 0.3)
    report("run --dry-run (local)", wall_times([*SMLAUNCH, "run", "configs/local.yaml", "--dry-run"], repeats, REPO),
           None)
    with tempfile.TemporaryDirectory(prefix="smlaunch-bench-") as scratch:
        project = scratch_project(Path(scratch) / "project")
        billion_laughs(project)
        config_size(scratch_project(Path(scratch) / "big-configs"), repeats)  # their tasks ship with no other run
        local_process = smoke_timeline(project, repeats)
        cloud_launch(project, Path(scratch), repeats)
        outage_pace(project, Path(scratch), max(2, repeats // 2))
        hosts_and_sweep(project, max(1, repeats // 2))
        if os.environ.get("BENCH_CONTAINER", "1") == "1":
            container_run(project, repeats, local_process)


def config_size(project: Path, repeats: int) -> None:
    """Whole-process medians by config size, the sizes interleaved so machine noise hits them alike."""
    from tests.bigconfig import write_task

    sizes = {"cfg20": 20, "cfg1000": 1000, "cfg10000": 10_000}
    for name, leaves in sizes.items():
        write_task(project, leaves, name)
    for verb in (["validate"], ["run", "--dry-run"]):
        times: dict[str, list[float]] = {name: [] for name in sizes if name != "cfg10000" or verb == ["validate"]}
        for _ in range(repeats):
            for name in times:
                times[name] += wall_times([*SMLAUNCH, *verb, f"configs/{name}.yaml"], 1, project)
        for name, measured in times.items():
            report(f"{' '.join(verb)} {sizes[name]:,} keys", measured, 3.0 if name == "cfg10000" else None)
        ratio = statistics.median(times["cfg1000"]) / statistics.median(times["cfg20"])
        verdict = "ok" if ratio <= 2 else "OVER GOAL"
        print(f"{' '.join(verb) + ' 1,000 / 20 keys':<36} {ratio:.2f}x; goal ≤ 2x: {verdict}")


def outage_pace(project: Path, scratch: Path, repeats: int) -> None:
    """The training loop's seconds calm and through the faults, alternated, best of each."""
    from tests.conftest import Project
    from tests.faults import FaultProxy
    from tests.services import mlflow_server
    from tests.test_tracker_faults import Outage, chatty_run

    (scratch / "mlflow-outage").mkdir()
    calm, faulty = [], []
    with mlflow_server(scratch / "mlflow-outage") as tracking_uri:
        for _ in range(repeats):
            with FaultProxy(tracking_uri) as proxy:
                calm.append(chatty_run(Project(project), proxy.url)[1])
            with FaultProxy(tracking_uri, Outage(seconds=4.0)) as proxy:
                faulty.append(chatty_run(Project(project), proxy.url)[1])
    ratio = min(faulty) / min(calm)
    print(f"{'tracker outage: training loop':<36} {min(calm):.2f} s calm, {min(faulty):.2f} s through the faults "
          f"(best of {repeats}): {ratio:.2f}x; goal ≤ 1.10x: {'ok' if ratio <= 1.10 else 'OVER GOAL'}")


def cloud_launch(project: Path, scratch: Path, repeats: int) -> None:
    from tests.cloud import make_cloud_project
    from tests.conftest import Project
    from tests.services import mlflow_server, moto_server

    (scratch / "moto").mkdir()
    (scratch / "mlflow").mkdir()
    with moto_server(scratch / "moto") as moto, mlflow_server(scratch / "mlflow") as tracking_uri:
        make_cloud_project(Project(project), moto, tracking_uri)
        env = {**os.environ, **{k: v for k, v in moto.aws_env().items() if v is not None}}
        env.pop("AWS_PROFILE", None)
        command = [*SMLAUNCH, "run", "configs/cloud.yaml"]
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)  # warm-up: experiment
        to_submit, whole = [], []
        for _ in range(repeats * 2):
            started_wall, started = time.time(), time.perf_counter()
            done = subprocess.run([*command, "--output", "json"], cwd=project, env=env, check=True,
                                  capture_output=True, text=True)
            whole.append(time.perf_counter() - started)
            to_submit.append(float(json.loads(done.stdout)["submitted_at"]) - started_wall)
        report("cloud launch: to CreateTrainingJob", to_submit, 1.5)
        report("cloud launch: whole command", whole, None)


if __name__ == "__main__":
    main()
