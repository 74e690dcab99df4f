"""Scale-out with torchrun: hosts that train one model on their own shards, fail together, and rehearse the cloud.

Real processes throughout: two local hosts run torch.distributed.run and rendezvous on loopback; the GPU paths,
which need hardware this machine lacks, are checked as far as they go without it (a stand-in nvidia-smi).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cloud import CloudProject, make_cloud_project
from tests.conftest import Project, processes_in
from tests.services import MotoServer

TORCHRUN = ["--set", "sagemaker.instance_count=2", "--set", "distribution.type=torchrun"]
METRICS = ("train_loss", "val_loss", "val_accuracy")


def rank_summaries(job_dir: Path) -> dict[int, dict]:
    found = {}
    for path in job_dir.glob("algo-*/output/data/smlaunch/rank-*.json"):
        summary = json.loads(path.read_text())
        found[summary["rank"]] = summary
    return found


def test_two_hosts_train_one_model_on_different_shards(project: Project) -> None:
    from mlflow import MlflowClient

    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *TORCHRUN)
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    client = MlflowClient(tracking_uri=project.tracking_uri)
    run = client.get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    for name in METRICS:  # one writer: every step once, not once per host
        assert [point.step for point in client.get_metric_history(run.info.run_id, name)] == list(range(1, 21))
    assert run.data.metrics["val_accuracy"] >= 0.95
    job_dir = project.root / ".smlaunch/jobs" / report["job_name"]
    summaries = rank_summaries(job_dir)
    assert sorted(summaries) == [0, 1] and {s["host"] for s in summaries.values()} == {"algo-1", "algo-2"}
    first, second = summaries[0], summaries[1]
    assert first["parameters_sha256"] == second["parameters_sha256"]  # one model, synchronised
    assert first["shard_sha256"] != second["shard_sha256"]
    epoch = 700  # fewer than either worker's share of the 1,437 training examples in one epoch
    assert not set(first["first_examples"][:epoch]) & set(second["first_examples"][:epoch])  # disjoint shards
    assert len(set(first["first_examples"][:epoch])) == epoch
    assert first["examples"] + second["examples"] == 20 * 1437  # together: every example of every epoch once
    assert not (job_dir / "algo-2/output/data/smlaunch/metrics.jsonl").exists()  # rank 1 recorded nothing
    assert not (job_dir / "algo-2/model/model").exists()
    launched = json.loads((job_dir / "algo-2/output/data/smlaunch/torchrun.json").read_text())
    assert launched["command"][launched["command"].index("--node-rank") + 1] == "1"


def is_worker(pid: int) -> bool:
    """A torchrun worker (not the host's entry or its agent)."""
    try:
        return b"TORCHELASTIC_RUN_ID=" in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


@pytest.mark.parametrize("victim", ["host", "worker"])
def test_killing_one_host_fails_the_job_within_seconds_naming_it(project: Project, victim: str) -> None:
    """The whole of algo-2 killed, or only its worker (its agent then fails, while algo-1's worker has already
    lost its peer and may end first: the job still names algo-2)."""
    command = [sys.executable, "-m", "launcher", "run", "configs/local.yaml", "--output", "json", *TORCHRUN,
               "--set", "train.epochs=500"]
    launcher = subprocess.Popen(command, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    jobs = project.root / ".smlaunch/jobs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(jobs.glob("*/algo-1/output/data/smlaunch/metrics.jsonl")):
        time.sleep(0.2)  # training has started: rank 0 journals its first epoch
    victims = [pid for tree in jobs.glob("*/algo-2") for pid in processes_in(tree)
               if victim == "host" or is_worker(pid)]
    assert victims, "algo-2 is not running"
    killed = time.monotonic()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    out, err = launcher.communicate(timeout=120)
    ended = time.monotonic() - killed
    assert launcher.returncode == 1, err[-3000:]
    assert ended < 30, ended
    report = json.loads(out)
    assert report["status"] == "FAILED" and report["failure_reason"].startswith("algo-2:"), report
    (run,) = project.runs()
    assert run.info.status == "FAILED"
    assert run.data.tags["launcher.failure_reason"].startswith("algo-2:")
    assert processes_in(jobs) == []


def test_a_sharded_channel_gives_each_host_its_own_files(tmp_path: Path) -> None:
    from launcher.executors.tree import lay_out_host

    source = tmp_path / "parts"
    for index in range(7):
        (source / f"sub{index % 2}").mkdir(parents=True, exist_ok=True)
        (source / f"sub{index % 2}" / f"part-{index}.csv").write_text(str(index))
    request = {"ResourceConfig": {"InstanceCount": 3, "InstanceType": "local"}, "InputDataConfig": [
        {"ChannelName": "parts", "InputMode": "File", "DataSource": {"S3DataSource": {
            "S3Uri": source.as_uri(), "S3DataDistributionType": "ShardedByS3Key"}}},
        {"ChannelName": "whole", "InputMode": "File", "DataSource": {"S3DataSource": {
            "S3Uri": source.as_uri(), "S3DataDistributionType": "FullyReplicated"}}}]}
    seen: list[set[str]] = []
    for host in ("algo-1", "algo-2", "algo-3"):
        # copy_channels=False is the container's layout: whole channels are mounted, shards still copied
        tree = lay_out_host(request, tmp_path / host, host, copy_channels=False)
        files = {path.name for path in tree.channel_dir("parts").rglob("*.csv")}
        assert 2 <= len(files) <= 3
        assert not list(tree.channel_dir("whole").iterdir())  # a mount point
        config = json.loads(tree.input_data_config_file.read_text())
        assert config["parts"]["S3DistributionType"] == "ShardedByS3Key"
        seen.append(files)
    assert set().union(*seen) == {f"part-{index}.csv" for index in range(7)}
    assert sum(len(files) for files in seen) == 7  # no file on two hosts


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def test_the_torchrun_request_is_valid_and_is_what_the_rehearsal_ran(cloud: CloudProject) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    from launcher.executors.tree import resource_config
    from train.contract.paths import ContainerPaths, TrainingEnvironment
    from train.runtime import torchrun

    settings = ["--set", "distribution.type=torchrun", "--set", "channels.training.distribution=FullyReplicated",
                "--set", "train.epochs=2"]
    launched = cloud.run("--output", "json", *settings)
    assert launched.code == 0, launched.stderr[-3000:]
    (sent,) = cloud.moto.recorded("SageMaker.CreateTrainingJob")
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateTrainingJob").input_shape
    assert not ParamValidator().validate(sent, shape).has_errors()  # botocore's own model of the request
    assert sent["ResourceConfig"]["InstanceCount"] == 2
    assert {key: sent["Environment"][key] for key in
            ("SMLAUNCH_DISTRIBUTION", "SMLAUNCH_PROCESSES_PER_HOST", "SMLAUNCH_BACKEND")} == {
        "SMLAUNCH_DISTRIBUTION": "torchrun", "SMLAUNCH_PROCESSES_PER_HOST": "auto", "SMLAUNCH_BACKEND": "auto"}

    env = {**cloud.env, "XDG_CACHE_HOME": str(cloud.project.root / "cache")}
    rehearsal = cloud.project.smlaunch("rehearse", "configs/cloud.yaml", "--mode", "local-process", "--output",
                                       "json", *settings, env=env, timeout=600)
    assert rehearsal.code == 0, rehearsal.stderr[-3000:]
    job_dir = cloud.project.root / ".smlaunch/jobs" / rehearsal.json()["run"]["job_name"]
    for host in ("algo-1", "algo-2"):
        # what SageMaker's host would run, from the request and the resourceconfig.json SageMaker writes
        on_sagemaker = TrainingEnvironment(ContainerPaths(Path("/opt/ml")), current_host=host,
                                           hosts=tuple(resource_config(sent, host)["hosts"]))
        expected = torchrun.command(on_sagemaker, sent["Environment"], gpus=0)[1:]
        ran = json.loads((job_dir / host / "output/data/smlaunch/torchrun.json").read_text())["command"]
        stand_ins = {"--master-addr": ("algo-1", "127.0.0.1"), "--master-port": ("29500", None)}
        for flag, (cloud_value, local_value) in stand_ins.items():  # hosts here have no names: loopback
            position = expected.index(flag) + 1
            assert expected[position] == cloud_value
            assert local_value is None or ran[position] == local_value
            expected[position] = ran[position]
        assert ran == expected


def test_gpu_paths_without_a_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What can be checked here of the GPU paths: counting GPUs, 'auto' resolving to one worker per GPU and
    nccl, each worker's device, the GPUs reaching SM_NUM_GPUS, and --gpus for local_gpu containers."""
    from launcher.executors.docker import run_command
    from train.contract.paths import ContainerPaths, TrainingEnvironment
    from train.runtime import torchrun
    from train.runtime.distributed import Distributed
    from train.runtime.toolkit_env import count_gpus, toolkit_variables

    fake = tmp_path / "bin/nvidia-smi"  # what nvidia-smi --list-gpus prints on a 4-GPU instance
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n" + "".join(f"echo 'GPU {i}: NVIDIA A10G (UUID: GPU-{i})'\n" for i in range(4)))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert count_gpus() == 4
    auto = {"SMLAUNCH_DISTRIBUTION": "torchrun", "SMLAUNCH_PROCESSES_PER_HOST": "auto", "SMLAUNCH_BACKEND": "auto"}
    assert torchrun.resolve(auto, count_gpus()) == (4, "nccl")
    assert torchrun.resolve(auto, 0) == (1, "gloo")
    assert torchrun.resolve({**auto, "SMLAUNCH_PROCESSES_PER_HOST": "2"}, 4) == (2, "nccl")
    env = TrainingEnvironment(ContainerPaths(tmp_path), current_host="algo-2", hosts=("algo-1", "algo-2"))
    command = torchrun.command(env, auto, count_gpus())
    assert command[command.index("--nproc-per-node") + 1] == "4"
    assert command[command.index("--node-rank") + 1] == "1"
    assert toolkit_variables(env)["SM_NUM_GPUS"] == "4"
    worker = Distributed.from_environment({"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1",
                                           "LOCAL_WORLD_SIZE": "4", "SMLAUNCH_BACKEND": "nccl"})
    assert str(worker.device) == "cuda:1" and worker.under_torchrun
    assert "--gpus" not in run_command("image", "name", {}, [], ["train"])
    argv = run_command("image", "name", {}, [], ["train"], gpus=True)
    assert argv[argv.index("--gpus") + 1] == "all"


@pytest.mark.parametrize(("overrides", "field", "message"), [
    (["distribution.type=torchrun", "distribution.backend=nccl"], "distribution.backend", "nccl needs GPUs"),
    (["sagemaker.instance_type=ml.p3.8xlarge", "distribution.type=torchrun", "distribution.processes_per_host=8"],
     "distribution.processes_per_host", "ml.p3.8xlarge has 4 GPU(s)"),
    (["distribution.processes_per_host=2"], "distribution.processes_per_host", "only used with"),
    (["distribution.processes_per_host=many"], "distribution.processes_per_host", "use 'auto' or a number"),
    (["channels.training.distribution=Sharded"], "channels.training.distribution", "did you mean 'ShardedByS3Key'"),
], ids=["nccl on a CPU", "more processes than GPUs", "settings without torchrun", "not a number", "typo"])
def test_distribution_mistakes_are_located(project: Project, overrides: list[str], field: str, message: str) -> None:
    args = [part for item in overrides for part in ("--set", item)]
    result = project.smlaunch("run", "configs/local.yaml", *args)
    assert result.code == 2, result.stderr
    assert f"{field}: " in result.stderr and message in result.stderr, result.stderr
    assert project.runs() == []


def test_several_hosts_without_distribution_are_warned_about(project: Project) -> None:
    result = project.smlaunch("validate", "configs/local.yaml", "--set", "sagemaker.instance_count=3")
    assert result.code == 0, result.stderr
    assert "warning: sagemaker.instance_count is 3 without distribution" in result.stderr
    quiet = project.smlaunch("validate", "configs/local.yaml", *TORCHRUN)
    assert quiet.code == 0 and "warning" not in quiet.stderr, quiet.stderr
