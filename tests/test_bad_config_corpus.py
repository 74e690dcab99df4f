"""A corpus of bad configs: each gives exit 2, a message naming file, line and field, and creates nothing."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

JOB = """\
experiment: corpus
mode: local-process
training_config: train.yaml
tracking:
  uri: sqlite:///mlflow.db
sagemaker:
  instance_type: local
  instance_count: 1
channels:
  training:
    uri: data
"""
TRAIN = """\
task: train.digits.task:run
seed: 1
epochs: 2
optimizer:
  name: adam
  lr: 0.01
model:
  hidden_sizes: [8]
"""
BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


@dataclass
class Case:
    expected: str  # "<where>: <field>: <message fragment>" as printed
    job: str = JOB
    train: str = TRAIN
    files: dict[str, str | bytes] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


CASES = {
    "wrong type": Case("job.yaml:8:19: sagemaker.instance_count: 'two' is not an integer",
                       job=edit(JOB, "instance_count: 1", "instance_count: two")),
    "unknown key": Case("job.yaml:7:3: sagemaker.instance_tpye: unknown key 'instance_tpye' — did you mean "
                        "'instance_type'?", job=edit(JOB, "instance_type", "instance_tpye")),
    "unknown top-level key": Case("job.yaml:12:1: descripton: unknown key 'descripton' — did you mean 'description'?",
                                  job=JOB + "descripton: hi\n"),
    "enum typo": Case("job.yaml:2:7: mode: 'local_process' is not one of 'local-process', 'local-container', "
                      "'sagemaker' — did you mean 'local-process'?", job=edit(JOB, "local-process", "local_process")),
    "missing required": Case("job.yaml:1:1: missing required key 'experiment' (at top level)",
                             job=edit(JOB, "experiment: corpus\n", "")),
    "missing nested required": Case("job.yaml:10:3: channels.training: missing required key 'uri' (under "
                                    "channels.training)", job=edit(JOB, "    uri: data", "    input_mode: File")),
    "duplicate key": Case("job.yaml:12:1: mode: duplicate key (first defined at line 2)", job=JOB + "mode: sagemaker\n"),
    "below minimum": Case("job.yaml:9:24: sagemaker.max_runtime_seconds: 0 is less than the minimum of 1",
                          job=edit(JOB, "  instance_count: 1\n", "  instance_count: 1\n  max_runtime_seconds: 0\n")),
    "above maximum": Case("job.yaml:9:19: sagemaker.volume_size_gb: 20000 is greater than the maximum of 16384",
                          job=edit(JOB, "  instance_count: 1\n", "  instance_count: 1\n  volume_size_gb: 20000\n")),
    "bad role arn": Case("job.yaml:9:13: sagemaker.role_arn: 'SageMakerRole' is not valid: use an IAM role ARN",
                         job=edit(JOB, "  instance_count: 1\n", "  instance_count: 1\n  role_arn: SageMakerRole\n")),
    "bad bucket name": Case("job.yaml:11:10: channels.training.uri: 's3://My_Bucket/x' is not valid: use s3://",
                            job=edit(JOB, "uri: data", "uri: s3://My_Bucket/x")),
    "reserved channel": Case("job.yaml:10:3: channels.config: invalid name 'config': channel names are",
                             job=edit(JOB, "  training:", "  config:")),
    "channel name with space": Case("job.yaml:10:3: channels.my data: invalid name 'my data'",
                                    job=edit(JOB, "  training:", "  my data:")),
    "tag key too long": Case(f"job.yaml:13:3: tags.{'k' * 129}: tag keys are 1-128",
                             job=JOB + f"tags:\n  {'k' * 129}: v\n"),
    "tag value too long": Case("job.yaml:13:9: tags.team: tag values are at most 256",
                               job=JOB + f"tags:\n  team: {'v' * 257}\n"),
    "tag value SageMaker refuses": Case("job.yaml:13:9: tags.team: tag values are at most 256 letters, digits, spaces",
                                        job=JOB + "tags:\n  team: 'ml|platform'\n"),
    "too many tags": Case("job.yaml:13:3: tags: ", job=JOB + "tags:\n" + "".join(f"  t{i}: v\n" for i in range(49))),
    "environment value not a string": Case("job.yaml:13:6: environment.N: 3 is not a string",
                                           job=JOB + "environment:\n  N: 3\n"),
    "environment name": Case("job.yaml:13:3: environment.1BAD: not an environment variable name SageMaker takes",
                             job=JOB + "environment:\n  1BAD: x\n"),
    "training wrong type": Case("train.yaml:6:7: train.optimizer.lr: 'fast' is not a number",
                                train=edit(TRAIN, "lr: 0.01", "lr: fast")),
    "training unknown key": Case("train.yaml:9:1: train.epocs: unknown key 'epocs' — did you mean 'epochs'?",
                                 train=TRAIN + "epocs: 3\n"),
    "training empty list": Case("train.yaml:8:17: train.model.hidden_sizes: [] should be non-empty",
                                train=edit(TRAIN, "[8]", "[]")),
    "training exclusive maximum": Case("train.yaml:9:12: train.model.dropout: 1.0 is greater than or equal to the "
                                       "maximum of 1", train=TRAIN + "  dropout: 1.0\n"),
    "training enum": Case("train.yaml:5:9: train.optimizer.name: 'adagrad' is not one of 'adam', 'adamw', 'sgd'",
                          train=edit(TRAIN, "name: adam", "name: adagrad")),
    "task reference": Case("train.yaml:1:7: train.task: 'train.digits.task' is not valid: use 'package.module:function'",
                           train=edit(TRAIN, "task: train.digits.task:run", "task: train.digits.task")),
    "task not found": Case("train.yaml:1:7: train.task: module train.digist.task not found",
                           train=edit(TRAIN, "train.digits.task:run", "train.digist.task:run")),
    "task function missing": Case("train.yaml:1:7: train.task: ", train=edit(TRAIN, "task:run", "task:fit")),
    "override wrong type": Case("--set train.epochs=zero: train.epochs: 'zero' is not an integer",
                                overrides=("train.epochs=zero",)),
    "override unknown path": Case("--set sagemaker.instance_cnt=2: sagemaker.instance_cnt: unknown key "
                                  "'instance_cnt' — did you mean 'instance_count'?",
                                  overrides=("sagemaker.instance_cnt=2",)),
    "override syntax": Case("--set epochs: expected KEY=VALUE", overrides=("epochs",)),
    "override into a scalar": Case("--set train.seed.x=1: train.seed.x: cannot set a key inside train.seed",
                                   overrides=("train.seed.x=1",)),
    "missing training config": Case("job.yaml:3:18: training_config: training config", files={},
                                    job=edit(JOB, "train.yaml", "absent.yaml")),
    "extends cycle": Case("base.yaml:1:10: extends: extends cycle: job.yaml → base.yaml → job.yaml", job="extends: base.yaml\n" + JOB,
                          files={"base.yaml": "extends: job.yaml\n"}),
    "extends missing base": Case("job.yaml:1:10: extends: base config", job="extends: nowhere.yaml\n" + JOB),
    "error in extended file": Case("base.yaml:2:3: sagemaker.instance_cont: unknown key",
                                   job="extends: base.yaml\n" + JOB,
                                   files={"base.yaml": "sagemaker:\n  instance_cont: 2\n"}),
    "sagemaker mode needs cloud settings": Case("job.yaml:6:1: sagemaker: missing required key 'image' (under sagemaker)",
                                                job=edit(JOB, "local-process", "sagemaker")),
    "sagemaker mode needs ml instance": Case("job.yaml:7:18: sagemaker.instance_type: 'local' is not valid: SageMaker "
                                             "needs an ml.* instance type", job=edit(JOB, "local-process", "sagemaker")),
    "container mode needs image": Case("job.yaml:6:1: sagemaker: missing required key 'image'",
                                       job=edit(JOB, "local-process", "local-container")),
    "yaml syntax": Case("job.yaml:13:1: invalid YAML", job=JOB + "bad: [1, 2\n"),
    "top-level list": Case("job.yaml:1:1: top level is a list", job="- experiment: x\n"),
    "empty training config": Case("train.yaml: file is empty", train="# nothing yet\n"),
    "billion laughs": Case("train.yaml:", train=BOMB),
    "not utf-8": Case("job.yaml:12:1: file is not UTF-8", files={"job.yaml": JOB.encode() + b"tags: {a: \xff}\n"}),
    "unsafe tag": Case("job.yaml:12:7: invalid YAML: unsupported tag", job=JOB + "evil: !!python/object/apply:os.system [true]\n"),
    "environment limit": Case("job.yaml:5:8: tracking.uri: longer than 512 characters",
                              job=edit(JOB, "sqlite:///mlflow.db", "http://h/" + "p" * 600)),
    "missing data dir": Case("job.yaml:11:10: channels.training.uri: directory", job=edit(JOB, "uri: data", "uri: nodata")),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_bad_config_exits_2_with_location_and_creates_nothing(tmp_path: Path, case: Case) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "job.yaml").write_text(case.job)
    (tmp_path / "train.yaml").write_text(case.train)
    for name, content in case.files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    before = set(tmp_path.iterdir())
    args = [arg for override in case.overrides for arg in ("--set", override)]
    done = subprocess.run([sys.executable, "-m", "launcher", "run", "job.yaml", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert case.expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert set(tmp_path.iterdir()) == before  # no mlflow.db, no mlruns/, no .smlaunch/, no outputs/
