"""Loading a job config into a LaunchSpec: defaults, overrides, and every problem reported at once."""

from __future__ import annotations

import pytest

from launcher.config.loader import load_launch_spec
from launcher.core.errors import ConfigError
from tests.conftest import Project


def problems(project: Project, *overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_launch_spec(project.config, overrides)
    return [str(problem) for problem in caught.value.problems]


def test_defaults_from_schema_fill_the_spec(project: Project) -> None:
    project.write("configs/train/digits.yaml", "task: train.digits.task:run\nseed: 7\n")
    spec = load_launch_spec(project.config)
    assert spec.training["seed"] == 7
    assert spec.training["optimizer"]["name"] == "adam"
    assert spec.training["model"]["hidden_sizes"] == (128, 64)
    assert spec.resolved["train"]["epochs"] == 20
    assert spec.channels[0].uri == str(project.root / "data" / "digits")


def test_overrides_are_typed_by_yaml_rules(project: Project) -> None:
    spec = load_launch_spec(project.config, [
        "train.optimizer.lr=0.01", "train.model.hidden_sizes=[32]", "sagemaker.instance_count=2",
        "run_name=trial 7", "environment.FLAG=yes-please",
    ])
    assert spec.training["optimizer"]["lr"] == 0.01
    assert spec.training["model"]["hidden_sizes"] == (32,)
    assert spec.job.instance_count == 2
    assert spec.run_name == "trial 7"
    assert spec.environment["FLAG"] == "yes-please"


def test_every_problem_is_reported_at_once_in_file_order(project: Project) -> None:
    text = project.config.read_text()
    text = text.replace("mode: local-process", "mode: local_process").replace("instance_count: 1", "instance_count: 0")
    project.config.write_text(text)
    found = problems(project, "train.epohcs=3")
    assert len(found) == 3
    assert "mode: 'local_process' is not one of 'local-process', 'local-container', 'sagemaker' — did you mean " \
           "'local-process'?" in found[0]
    assert "sagemaker.instance_count: 0 is less than the minimum of 1" in found[1]
    assert found[2] == "--set train.epohcs=3: train.epohcs: unknown key 'epohcs' — did you mean 'epochs'?"


def test_missing_required_key_names_its_parent(project: Project) -> None:
    project.write("configs/local.yaml", "experiment: x\nmode: local-process\nchannels: {a: {input_mode: File}}\n")
    found = problems(project)
    assert any("missing required key 'training_config' (at top level)" in line for line in found)
    assert any("configs/local.yaml:3:12: channels.a: missing required key 'uri' (under channels.a)" in line
               for line in found)


def test_missing_training_config_and_data_dir(project: Project) -> None:
    text = project.config.read_text().replace("train/digits.yaml", "train/nope.yaml")
    project.config.write_text(text.replace("../data/digits", "../data/absent"))
    found = problems(project)
    assert len(found) == 2, found  # both, at once: the missing training config does not hide the data dir
    assert "training_config: training config" in found[0] and "nope.yaml not found" in found[0]
    assert "channels.training.uri: directory" in found[1] and "data/absent does not exist" in found[1]


def test_missing_local_data_dir_says_how_to_make_it(project: Project) -> None:
    project.config.write_text(project.config.read_text().replace("../data/digits", "../data/absent"))
    (line,) = problems(project)
    assert "channels.training.uri: directory" in line and "run `make data`" in line


def test_bad_override_syntax_and_non_mapping_parent(project: Project) -> None:
    found = problems(project, "no-equals-sign", "train.seed.deeper=1")
    assert any("expected KEY=VALUE" in line for line in found)
    assert any("cannot set a key inside train.seed: it is not a mapping" in line for line in found)


def test_sagemaker_mode_requires_cloud_settings(project: Project) -> None:
    project.config.write_text(project.config.read_text().replace("mode: local-process", "mode: sagemaker"))
    found = "\n".join(problems(project))
    assert "missing required key 'image' (under sagemaker)" in found
    assert "missing required key 'role_arn' (under sagemaker)" in found
    assert "SageMaker reads channels from S3" not in found  # schema problems first; semantic checks after


def test_override_problems_come_in_command_line_order(project: Project) -> None:
    found = problems(project, "sagemaker.instance_count=two", "sagemaker.instance_tpye=x",
                     "train.model.hidden_sizes=&a [*a]")
    assert [line.split(":")[0] for line in found] == [
        "--set sagemaker.instance_count=two", "--set sagemaker.instance_tpye=x",
        "--set train.model.hidden_sizes=&a [*a]"]
    assert found[2].endswith("train.model.hidden_sizes: an alias refers to itself (recursive YAML)")
