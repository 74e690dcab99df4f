"""The /opt/ml tree and the environment a local host gets, held against SageMaker's rules and AWS's own toolkit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from launcher.executors.host_env import process_environment
from launcher.executors.tree import host_environment, lay_out_host
from tests.conftest import REPO
from train.contract.paths import ContainerPaths, TrainingEnvironment
from train.runtime.toolkit_env import toolkit_variables

TOOLKIT_PYTHON = REPO / ".venv-toolkit" / "bin" / "python"
TOOLKIT_ENV = """
import json
from sagemaker_training import environment
print(json.dumps(environment.Environment().to_env_vars()))
"""


def make_request(tmp_path: Path) -> dict:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.npz").write_bytes(b"x")
    return {
        "TrainingJobName": "digits-1234abcd-20261129-101010",
        "HyperParameters": {"epochs": "3", "optimizer.lr": "0.003", "model.hidden_sizes": "[128, 64]",
                            "task": "train.digits.task:run", "shuffle": "true", "note": "not json {"},
        "InputDataConfig": [
            {"ChannelName": "training", "InputMode": "File",
             "DataSource": {"S3DataSource": {"S3Uri": data.as_uri(), "S3DataDistributionType": "FullyReplicated"}}},
            {"ChannelName": "extra", "InputMode": "FastFile",
             "DataSource": {"S3DataSource": {"S3Uri": data.as_uri(), "S3DataDistributionType": "ShardedByS3Key"}}},
        ],
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 1},
        "Environment": {"MLFLOW_RUN_ID": "abc", "FLAG": "1"},
    }


def test_tree_round_trips_through_the_container_contract(tmp_path: Path) -> None:
    request = make_request(tmp_path)
    paths = lay_out_host(request, tmp_path / "algo-2", "algo-2")
    assert (paths.channel_dir("training") / "train.npz").read_bytes() == b"x"
    env = TrainingEnvironment.read(ContainerPaths(tmp_path / "algo-2"))
    assert env.current_host == "algo-2"
    assert env.hosts == ("algo-1", "algo-2")
    assert not env.is_primary
    assert env.hyperparameters["epochs"] == "3"
    assert env.channels["extra"] == {"TrainingInputMode": "FastFile", "S3DistributionType": "ShardedByS3Key",
                                     "RecordWrapperType": "None"}
    for directory in (paths.model_dir, paths.output_data_dir, paths.checkpoints_dir):
        assert directory.is_dir()


def test_sm_variables_are_exactly_what_the_training_toolkit_computes(tmp_path: Path) -> None:
    """The container derives SM_* itself; AWS's sagemaker-training package, run on the same tree, must agree
    on every variable we set (values included: JSON-decoded hyperparameters, compact JSON, paths)."""
    if not TOOLKIT_PYTHON.exists():
        pytest.fail(f"{TOOLKIT_PYTHON} is missing: `make test` installs it (make .venv-toolkit/.installed)")
    request = make_request(tmp_path)
    tree = lay_out_host(request, tmp_path / "algo-2", "algo-2")
    ours = toolkit_variables(TrainingEnvironment.read(tree))
    done = subprocess.run([str(TOOLKIT_PYTHON), "-c", TOOLKIT_ENV], capture_output=True, text=True, check=False,
                          env={"SAGEMAKER_BASE_DIR": str(tree.base), "PATH": "/usr/bin:/bin",
                               "AWS_DEFAULT_REGION": "eu-west-1"}, timeout=120)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)
    assert set(ours) <= set(theirs), sorted(set(ours) - set(theirs))
    assert {name: ours[name] for name in ours} == {name: theirs[name] for name in ours}
    assert json.loads(ours["SM_HPS"])["model.hidden_sizes"] == [128, 64]  # decoded, as the toolkit does
    assert len(ours) >= 25  # the commonly used ones: hosts, channels, hps, paths, resources, counts


def test_a_local_host_gets_what_sagemaker_gives_this_image(tmp_path: Path) -> None:
    """No SM_* from the launcher (SageMaker sets none: the container derives them), TRAINING_JOB_NAME/ARN
    set, the job's Environment, and nothing else of the laptop's but the machine basics and AWS settings."""
    request = make_request(tmp_path)
    env = host_environment(request, "algo-1")
    assert env == {"MLFLOW_RUN_ID": "abc", "FLAG": "1", "TRAINING_JOB_NAME": request["TrainingJobName"],
                   "TRAINING_JOB_ARN": "arn:aws:sagemaker:local:000000000000:training-job/"
                                       + request["TrainingJobName"]}
    tree = lay_out_host(request, tmp_path / "algo-1", "algo-1")
    laptop = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "MLFLOW_TRACKING_PASSWORD": "laptop-only",
              "VIRTUAL_ENV": "/v", "AWS_ACCESS_KEY_ID": "AKIA-stand-in", "HOME": str(tmp_path / "nohome")}
    process = process_environment(request, tree, "algo-1", laptop)
    assert not any(name.startswith("SM_") for name in process)
    assert "MLFLOW_TRACKING_PASSWORD" not in process and "VIRTUAL_ENV" not in process
    assert process["AWS_ACCESS_KEY_ID"] == "AKIA-stand-in"  # stands in for the execution role
    assert process["PATH"] == "/usr/bin"
    assert process["SAGEMAKER_BASE_DIR"] == str(tree.base)
    assert process["HOME"] == str(tree.base / "home")
