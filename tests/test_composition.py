"""`extends:` composition: deep merge, lists replaced, chains, locations kept per file."""

from __future__ import annotations

from pathlib import Path

from launcher.config.composition import deep_merge, load_composed
from launcher.config.loader import load_launch_spec
from launcher.job.staging import stage_configs
from tests.conftest import Project


def test_deep_merge_replaces_lists_and_scalars() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert deep_merge(base, {"a": {"c": [3]}, "e": 2}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_chain_merges_and_remembers_where_each_value_came_from(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared/root.yaml").write_text("model:\n  hidden_sizes: [8, 8]\n  dropout: 0.2\nseed: 1\n")
    (tmp_path / "middle.yaml").write_text("extends: shared/root.yaml\nseed: 2\n")
    (tmp_path / "top.yaml").write_text("extends: middle.yaml\nmodel:\n  hidden_sizes: [4]\n")
    document, files = load_composed(tmp_path / "top.yaml")
    assert document.data == {"model": {"hidden_sizes": [4], "dropout": 0.2}, "seed": 2}
    assert [f.resolve() for f in files] == [tmp_path / "shared/root.yaml", tmp_path / "middle.yaml",
                                            tmp_path / "top.yaml"]
    assert document.locate(("model", "dropout")).source.endswith("shared/root.yaml")
    assert document.locate(("seed",)).source.endswith("middle.yaml")
    assert document.locate(("model", "hidden_sizes", 0)).source.endswith("top.yaml")
    assert ("model", "hidden_sizes", 1) not in document.values  # the base's list was replaced, not merged


def test_extending_job_config_resolves_paths_from_the_defining_file(project: Project) -> None:
    project.write("configs/team/override.yaml", "extends: ../local.yaml\nexperiment: team-exp\n"
                  "sagemaker:\n  instance_count: 2\n")
    spec = load_launch_spec(project.root / "configs/team/override.yaml")
    assert spec.experiment == "team-exp"
    assert spec.job.instance_count == 2
    assert spec.job.volume_size_gb == 30  # from the base
    assert spec.channels[0].uri == str(project.root / "data/digits")  # relative to local.yaml, not override.yaml
    assert spec.sources.training_file.resolve() == project.root / "configs/train/digits.yaml"
    assert "extends" not in spec.resolved
    staged = stage_configs(spec, project.root / "staged")
    names = {path.relative_to(project.root / "staged").as_posix() for path in staged}
    assert {"job/local.yaml", "job/override.yaml", "train/digits.yaml", "resolved.yaml", "training.yaml"} <= names
