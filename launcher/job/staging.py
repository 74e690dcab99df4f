"""Write the config files a job receives (its `config` channel) and the run keeps as artifacts.

Layout, identical in the channel, on S3 and under the run's `config/` artifacts:
  training.yaml        the resolved training config the container reads
  resolved.yaml        the whole resolved config (job + `train:`), overrides and defaults applied
  job/<file>           the job config file as written (and every file it `extends`)
  train/<file>         the training config file as written (and every file it `extends`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from launcher.config.spec import LaunchSpec, thaw
from launcher.config.yaml12 import dump
from launcher.job.code import CodeArchive
from launcher.job.request import config_location, staged_location
from train.contract.files import write_atomically
from train.contract.paths import CODE_CHANNEL, CONFIG_CHANNEL, RESOLVED_CONFIG_FILE, TRAINING_CONFIG_FILE

CONFIG_ARTIFACT_DIR = "config"


def stage_configs(spec: LaunchSpec, directory: Path, copies_from: Path | None = None) -> list[Path]:
    """Write the staged config files into `directory` (created) and return them. `copies_from` holds the
    `job/` and `train/` copies to stage instead of the spec's files (a reproduced run's: the original's, byte
    for byte)."""
    written = [write_atomically(directory / TRAINING_CONFIG_FILE, dump(thaw(spec.training))),
               write_atomically(directory / RESOLVED_CONFIG_FILE, dump(thaw(spec.resolved)))]
    if copies_from is not None:
        return written + [write_atomically(directory / source.relative_to(copies_from), source.read_bytes())
                          for folder in ("job", "train") for source in sorted((copies_from / folder).glob("*"))]
    return written + _copy_all(spec.sources.job_files, directory / "job") + \
        _copy_all(spec.sources.training_files, directory / "train")


@dataclass(frozen=True)
class StagedJob:
    """A job's staged channels: the config files (and the packed code) on disk, and where the job reads them."""

    directory: Path  # the staged `config` channel
    files: list[Path]
    config_uri: str
    code_file: Path | None = None
    code_uri: str | None = None

    def uploads(self) -> list[tuple[Path, str]]:
        """(local file, S3 URI) for every staged file: what a SageMaker job needs uploaded."""
        found = [(path, self.config_uri + path.relative_to(self.directory).as_posix()) for path in self.files]
        if self.code_file is not None and self.code_uri is not None:
            found.append((self.code_file, f"{self.code_uri}{self.code_file.name}"))
        return found


def stage_job(spec: LaunchSpec, run_id: str, job_name: str, code: CodeArchive | None,
              copies_from: Path | None = None) -> StagedJob:
    """Stage the configs (and the code) under the work dir's `<job_name>/`, with the locations the job reads."""
    directory = spec.work_dir / job_name / CONFIG_CHANNEL
    files = stage_configs(spec, directory, copies_from)
    config_uri = config_location(spec, run_id, job_name)
    if code is None:
        return StagedJob(directory, files, config_uri)
    return StagedJob(directory, files, config_uri, code.write(spec.work_dir / job_name / CODE_CHANNEL),
                     staged_location(spec, run_id, job_name, CODE_CHANNEL))


def _copy_all(files: tuple[Path, ...], target: Path) -> list[Path]:
    """Copy files keeping their names; a name seen twice in a chain gets a numeric prefix."""
    copies: list[Path] = []
    for index, source in enumerate(files):
        repeated = any(other.name == source.name for other in files[index + 1 :])
        name = f"{index}-{source.name}" if repeated else source.name
        copies.append(write_atomically(target / name, source.read_bytes()))
    return copies
