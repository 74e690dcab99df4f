"""A SageMaker run reproduced from an empty directory sends the same job: the config channel byte for byte,
the image by the digest the run recorded, and a request that differs only where a new run must."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cloud import BUCKET, CloudProject, make_cloud_project
from tests.conftest import Project
from tests.services import MotoServer


@pytest.fixture
def cloud(project: Project, moto: MotoServer, mlflow_url: str) -> CloudProject:
    return make_cloud_project(project, moto, mlflow_url)


def channel(cloud: CloudProject, config_uri: str) -> dict[str, bytes]:
    prefix = config_uri.removeprefix(f"s3://{BUCKET}/")
    s3 = cloud.client("s3")
    return {key[len(prefix):]: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in cloud.keys(prefix)}


def test_a_sagemaker_run_reproduced_from_an_empty_directory_sends_the_same_job(cloud: CloudProject,
                                                                               tmp_path: Path) -> None:
    report = cloud.run("--output", "json").json()
    env = {key: value for key, value in {**os.environ, **cloud.env}.items() if value is not None}
    done = subprocess.run([sys.executable, "-m", "launcher", "reproduce", report["run_id"], "--tracking-uri",
                           cloud.tracking_uri, "--output", "json"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(done.stdout)
    first, second = cloud.moto.recorded("SageMaker.CreateTrainingJob")
    configs = [request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] for request in (first, second)]
    assert channel(cloud, configs[0]) == channel(cloud, configs[1])  # byte for byte
    assert second["AlgorithmSpecification"]["TrainingImage"] == first["AlgorithmSpecification"]["TrainingImage"]
    assert "@sha256:" in first["AlgorithmSpecification"]["TrainingImage"]

    def same_job(request: dict) -> dict:  # what a new run must change: its name, its IDs, where it stages
        request = json.loads(json.dumps(request).replace(report["run_id"], "<run>").replace(again["run_id"], "<run>")
                             .replace(report["job_name"], "<job>").replace(again["job_name"], "<job>"))
        return request

    assert same_job(first) == same_job(second)
