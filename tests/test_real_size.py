"""Configs at real size (a detectron2-like config of about 1,000 leaves) and GPU counts that are true."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bigconfig import DEEP_LR, LONG_TEXT, leaf_paths, write_task
from tests.cloud import CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import MotoServer


@pytest.fixture
def big(project: Project) -> tuple[Project, dict]:
    return project, write_task(project.root)


def test_a_thousand_key_config_validates_with_its_numbers_as_written(big: tuple[Project, dict]) -> None:
    project, config = big
    assert len(leaf_paths(config)) == 1000
    assert "base_lr: 1e-05" in (project.root / "configs/train/big.yaml").read_text()  # no dot, as papers write it
    done = project.smlaunch("validate", "configs/big.yaml")
    assert done.code == 0, done.stderr[-2000:]
    exponent = project.smlaunch("validate", "configs/big.yaml", "--set", "train.solver.schedule.warmup_factor=1e-05")
    assert exponent.code == 0, exponent.stderr  # `--set` reads numbers the same way
    text = project.smlaunch("validate", "configs/big.yaml", "--set", "train.solver.schedule.warmup_factor=fast")
    assert text.code == 2 and "'fast' is not a number" in text.stderr


def test_a_thousand_key_config_runs_every_leaf_a_param_and_deep_keys_typed(big: tuple[Project, dict]) -> None:
    project, _config = big
    result = project.smlaunch("run", "configs/big.yaml", "--output", "json")
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    (run,) = project.runs()
    assert run.info.status == "FINISHED"
    training = {key for key in run.data.params if key.startswith("train.")}
    assert len(training) == 1000 + 4  # every leaf, and the base fields: task, seed, num_threads, data.channel
    assert run.data.params["train.solver.schedule.stage_4.block_2.base_lr"] == "1e-05"
    stand_in = run.data.params["train.notes.long"]
    assert len(LONG_TEXT) > 6000 and "9200 characters" in stand_in and "config/resolved.yaml" in stand_in
    tree = project.root / ".smlaunch/jobs" / report["job_name"] / "algo-1"
    read = json.loads((tree / "output/data/read.json").read_text())
    assert read == {"lr": 1e-05, "use_bias": True, "sizes": [64, 128], "note_length": len(LONG_TEXT),
                    "leaves": 1004}
    from mlflow import MlflowClient

    resolved = Path(MlflowClient(project.tracking_uri).download_artifacts(run.info.run_id, "config/resolved.yaml",
                                                                          str(project.root / "got")))
    import yaml

    assert yaml.safe_load(resolved.read_text())["train"]["notes"]["long"] == LONG_TEXT  # whole, where it says


def test_a_sweep_over_a_deep_key_runs_locally(big: tuple[Project, dict]) -> None:
    project, _ = big
    path = "train." + ".".join(DEEP_LR)
    project.write("configs/sweeps/deep.yaml", f"""\
config: ../big.yaml
strategy: grid
max_parallel: 2
objective: {{metric: loss, goal: minimize}}
parameters:
  {path}: {{values: [1e-05, 3e-05]}}
""")
    result = project.smlaunch("sweep", "configs/sweeps/deep.yaml", "--output", "json")
    assert result.code == 0, result.stderr[-3000:]
    trials = result.json()["trials"]
    assert sorted(trial["values"][path] for trial in trials) == [1e-05, 3e-05]
    children = [run for run in project.runs() if "mlflow.parentRunId" in run.data.tags]
    assert sorted(run.data.params[path] for run in children) == ["1e-05", "3e-05"]


@pytest.fixture
def cloud_big(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    cloud = make_cloud_project(project, moto, mlflow_url)
    write_task(project.root)
    config = project.root / "configs/cloud.yaml"
    config.write_text(config.read_text().replace("train/digits.yaml", "train/big.yaml"))
    return cloud


def test_a_thousand_key_config_is_a_request_within_sagemakers_limits(cloud_big: CloudProject) -> None:
    from launcher.cloud.aws import check_request

    result = cloud_big.run("--dry-run", "--output", "json")
    assert result.code in (0, 3), result.stderr[-2000:]
    request = result.json()["request"]
    check_request(request)
    assert "HyperParameters" not in request  # the config travels whole in the config channel
    assert len(request["Environment"]) <= 100 and all(len(v) <= 512 for v in request["Environment"].values())
    launched = cloud_big.run("--output", "json")
    assert launched.code == 0, launched.stderr[-2000:]
    staged = launched.json()["run_id"]
    keys = cloud_big.keys(f"configs/{cloud_big.experiment}/{staged}/config/")
    body = cloud_big.client("s3").get_object(Bucket="ml-bucket", Key=next(k for k in keys if k.endswith(
        "/training.yaml")))["Body"].read().decode()
    import yaml

    assert len(leaf_paths({k: v for k, v in yaml.safe_load(body).items() if k not in ("task", "seed",
                                                                                      "num_threads", "data")})) == 1000


def test_a_bayesian_sweep_on_a_deep_key_is_a_tuning_job_over_that_key(cloud_big: CloudProject) -> None:
    path = "train." + ".".join(DEEP_LR)
    cloud_big.project.write("configs/sweeps/tune.yaml", f"""\
config: ../cloud.yaml
strategy: bayesian
max_trials: 4
max_parallel: 2
objective: {{metric: loss, goal: minimize}}
parameters:
  {path}: {{min: 1e-06, max: 1e-03, scale: log}}
""")
    result = cloud_big.project.smlaunch("sweep", "configs/sweeps/tune.yaml", "--dry-run", "--output", "json",
                                        env=cloud_big.env)
    assert result.code == 0, result.stderr[-2000:]
    ranges = result.json()["request"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"][0]["Name"] == ".".join(DEEP_LR)
    assert result.json()["request"]["TrainingJobDefinition"]["StaticHyperParameters"] == {}
    from train.runtime.tuning import apply_tuned, tuned_values

    tuned = tuned_values({".".join(DEEP_LR): "0.000123"}, {"SMLAUNCH_TUNED": ".".join(DEEP_LR)})
    config = apply_tuned({"solver": {"schedule": {"stage_4": {"block_2": {"base_lr": 1e-05, "other": 1}}}}}, tuned)
    assert config["solver"]["schedule"]["stage_4"]["block_2"] == {"base_lr": 0.000123, "other": 1}


GPUS = {"ml.g5.xlarge": 1, "ml.g5.12xlarge": 4, "ml.g6.12xlarge": 4, "ml.g6e.2xlarge": 1, "ml.p4d.24xlarge": 8,
        "ml.p5.48xlarge": 8, "ml.m5.xlarge": 0}


@pytest.mark.parametrize(("kind", "gpus"), list(GPUS.items()))
def test_gpu_counts_are_true_and_only_what_is_known_wrong_is_refused(project: Project, kind: str, gpus: int) -> None:
    from launcher.config import sagemaker_api

    assert sagemaker_api.gpus(kind) == gpus
    base = ["--set", "mode=sagemaker", "--set", f"sagemaker.instance_type={kind}",
            "--set", "distribution.type=torchrun"]

    def problems(*extra: str) -> str:
        from launcher.config.distribution_rules import gpu_problems

        settings = dict(item.split("=", 1) for item in extra)
        processes = int(settings.get("processes", "auto")) if settings.get("processes", "auto") != "auto" else "auto"
        return "; ".join(message for _, message in gpu_problems(kind, sagemaker_api.gpus(kind), processes,
                                                              settings.get("backend", "auto")))

    assert problems("backend=nccl") == ("" if gpus else f"nccl needs GPUs and {kind} has none: use gloo (or auto), "
                                                         "or a GPU instance type")
    assert problems(f"processes={max(gpus, 1)}") == ""
    assert (problems(f"processes={gpus + 1}") != "") == (gpus > 0)  # more workers than GPUs
    _ = base


def test_an_unknown_gpu_count_is_a_warning_not_a_zero(project: Project) -> None:
    from launcher.config import sagemaker_api

    unknown = [kind for kind in sagemaker_api.instance_types() if sagemaker_api.gpus(kind) is None]
    assert unknown  # the table says so instead of guessing
    done = project.smlaunch("validate", "configs/local.yaml", "--set", "distribution.type=torchrun",
                            "--set", "distribution.backend=nccl", "--set", "sagemaker.instance_count=1")
    assert done.code == 2 and "nccl needs GPUs and local has none" in done.stderr
