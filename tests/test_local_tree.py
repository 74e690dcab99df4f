"""The /opt/ml tree and SM_* environment the local executors derive from a request, read back by train.contract."""

from __future__ import annotations

import json
from pathlib import Path

from launcher.local_tree import lay_out_host, sagemaker_environment
from train.contract import ContainerPaths, TrainingEnvironment


def make_request(tmp_path: Path) -> dict:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.npz").write_bytes(b"x")
    return {
        "TrainingJobName": "j",
        "HyperParameters": {"epochs": "3"},
        "InputDataConfig": [{"ChannelName": "training", "InputMode": "File",
                             "DataSource": {"S3DataSource": {"S3Uri": data.as_uri()}}}],
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": 2, "VolumeSizeInGB": 1},
        "Environment": {"MLFLOW_RUN_ID": "abc"},
    }


def test_tree_round_trips_through_the_container_contract(tmp_path: Path) -> None:
    request = make_request(tmp_path)
    paths = lay_out_host(request, tmp_path / "algo-2", "algo-2")
    assert (paths.channel_dir("training") / "train.npz").read_bytes() == b"x"
    env = TrainingEnvironment.read(ContainerPaths(tmp_path / "algo-2"))
    assert env.current_host == "algo-2"
    assert env.hosts == ("algo-1", "algo-2")
    assert not env.is_primary
    assert env.hyperparameters == {"epochs": "3"}
    assert env.channels["training"]["TrainingInputMode"] == "File"
    for directory in (paths.model_dir, paths.output_data_dir, paths.checkpoints_dir):
        assert directory.is_dir()


def test_environment_matches_the_training_toolkit(tmp_path: Path) -> None:
    request = make_request(tmp_path)
    paths = ContainerPaths(Path("/opt/ml"))
    env = sagemaker_environment(request, paths, "algo-1")
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_CHANNEL_TRAINING"] == "/opt/ml/input/data/training"
    assert json.loads(env["SM_CHANNELS"]) == ["training"]
    assert json.loads(env["SM_HPS"]) == {"epochs": "3"}
    assert env["SM_HP_EPOCHS"] == "3"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_GPUS"] == "0"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SAGEMAKER_BASE_DIR"] == "/opt/ml"
    assert env["MLFLOW_RUN_ID"] == "abc"
