"""Credentials in everything the launcher derives: shapes the guard takes from detect-secrets, places it scans
(the whole uncommitted diff, the git remote, the sweep file, files in the code archive), messages that never
echo a refused value, files that are not configs, private file modes, and a local job without its tracker's
credentials. Each case plants a unique fake value and greps every byte the launcher wrote for it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.services import AUTH_PASSWORD, AUTH_USER


def unique(prefix: str, length: int = 36) -> str:
    return (prefix + uuid.uuid4().hex + uuid.uuid4().hex)[:length]


SHAPES = {  # fake, unique per run, shaped like the real thing
    "GitLab token": lambda: unique("glpat-", 26),
    "Slack webhook": lambda: "https://hooks.slack.com/services/T" + unique("", 8).upper() + "/B" +
                             unique("", 8).upper() + "/" + unique("", 24),
    "HTTP Basic value": lambda: "Basic " + unique("dXNlcjpw", 28),
    "access_token query": lambda: "https://api.example.com/v1/data?access_token=" + unique("", 32),
    "GitHub token": lambda: unique("ghp_", 40),
    "Hugging Face token": lambda: unique("hf_", 37),
}


def git(root: Path, *args: str) -> None:
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


def written(project: Project, *outputs: str) -> bytes:
    """Every byte the launcher could have written: the store, artifacts, trees, outputs, and its output."""
    data = b"".join(text.encode() for text in outputs)
    for root in (project.root / ".smlaunch", project.root / "outputs", project.root / "mlruns"):
        for path in root.rglob("*") if root.exists() else []:
            if path.is_file():
                data += path.read_bytes()
    if project.db.exists():
        data += project.db.read_bytes()
    return data


@pytest.mark.parametrize("kind", list(SHAPES))
def test_a_shape_is_refused_as_a_param_a_tag_and_a_set_never_echoed(project: Project, kind: str) -> None:
    value = SHAPES[kind]()
    training = project.root / "configs/train/digits.yaml"
    training.write_text(training.read_text().replace("train_file: train.npz", f"train_file: {json.dumps(value)}"))
    as_param = project.smlaunch("run", "configs/local.yaml", "--output", "json")
    training.write_text(training.read_text().replace(f"train_file: {json.dumps(value)}", "train_file: train.npz"))
    as_tag = project.smlaunch("run", "configs/local.yaml", "--set", f"tags.origin={value}")
    as_env = project.smlaunch("run", "configs/local.yaml", "--set", f"environment.ORIGIN={value}", "--dry-run")
    as_int = project.smlaunch("validate", "configs/local.yaml", "--set", f"train.epochs={value}")
    for result, where in ((as_param, "configs/train/digits.yaml:"), (as_tag, "--set tags.origin=<hidden>"),
                          (as_env, "--set environment.ORIGIN=<hidden>"), (as_int, "--set train.epochs=<hidden>")):
        assert result.code == 2, result.stderr
        assert where in result.stderr and "looks like" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert project.runs() == []
    assert value.encode() not in written(project, *(r.stdout + r.stderr for r in (as_param, as_tag, as_env, as_int)))


def test_every_line_of_the_uncommitted_diff_is_scanned(project: Project) -> None:
    notes = project.root / "notes.txt"
    context, removed = SHAPES["GitLab token"](), SHAPES["GitHub token"]()
    notes.write_text(f"first\nsecond {context}\nthird\nremove me {removed}\nfifth\n")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "base")
    notes.write_text(f"first\nsecond {context}\nthird\nfifth\nsixth\n")  # context line kept, one line removed
    result = project.smlaunch("run", "configs/local.yaml", "--set", "train.epochs=1")
    assert result.code == 2, result.stderr
    assert "notes.txt (uncommitted change):2:1: an unchanged line" in result.stderr
    assert "notes.txt (uncommitted change):4:1: a removed line" in result.stderr
    assert project.runs() == []
    assert context.encode() not in written(project, result.stdout + result.stderr)


def test_the_git_remote_keeps_no_token_in_its_query(project: Project) -> None:
    token = SHAPES["GitLab token"]()
    git(project.root, "commit", "-q", "--allow-empty", "-m", "base")
    git(project.root, "remote", "add", "origin", f"https://gitlab.example.com/team/repo.git?access_token={token}")
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=1")
    assert result.code == 0, result.stderr[-2000:]
    (run,) = project.runs()
    assert run.data.tags["mlflow.source.git.repoURL"] == "https://gitlab.example.com/team/repo.git?access_token=***"
    assert token.encode() not in written(project, result.stdout + result.stderr)


def test_the_sweep_file_is_scanned_comments_and_description_included(project: Project) -> None:
    token = SHAPES["Slack webhook"]()
    sweep = f"""\
config: ../local.yaml
description: posts to {token} when done
strategy: grid
objective: {{metric: val_accuracy}}
parameters:
  train.epochs: {{values: [1]}}
"""
    project.write("configs/sweeps/s.yaml", sweep)
    result = project.smlaunch("sweep", "configs/sweeps/s.yaml")
    assert result.code == 2 and "configs/sweeps/s.yaml:2:" in result.stderr and "looks like" in result.stderr
    project.write("configs/sweeps/s.yaml", sweep.replace(f"posts to {token} when done", "a sweep") +
                  f"# the webhook: {token}\n")
    result = project.smlaunch("sweep", "configs/sweeps/s.yaml")
    assert result.code == 2 and "configs/sweeps/s.yaml:7:1: this line holds" in result.stderr, result.stderr
    assert project.runs() == []
    assert token.encode() not in written(project, result.stdout + result.stderr)


CREDENTIAL_FILES = {".docker/config.json": '{"auths": {"r": {"auth": "%s"}}}', ".aws/credentials": "[default]\n%s\n",
                    ".netrc": "machine h password %s\n", ".env": "TOKEN=%s\n", "id_rsa": "%s\n",
                    "server.pem": "%s\n", "tls.key": "%s\n"}


def test_credential_files_in_the_shipped_code_are_left_out_and_named(project: Project) -> None:
    marker = unique("not-shipped-", 40)
    for name, body in CREDENTIAL_FILES.items():
        path = project.root / "train" / "digits" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body % marker)
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("idle"))
    assert result.code == 0, result.stderr[-2000:]
    notice = next(line for line in result.stderr.splitlines() if line.startswith("notice: credential files"))
    for name in CREDENTIAL_FILES:
        assert f"train/digits/{name}" in notice
    (run,) = project.runs()
    assert "train/digits/.netrc" in run.data.tags["launcher.code_left_out"]
    assert marker.encode() not in written(project)


def test_a_literal_under_secrets_is_refused_and_never_echoed(project: Project) -> None:
    token = SHAPES["GitHub token"]()
    config = project.config
    config.write_text(config.read_text() + f"secrets:\n  GITHUB_TOKEN: {token}\n")
    result = project.smlaunch("run", "configs/local.yaml", "--dry-run")
    assert result.code == 2 and "secrets.GITHUB_TOKEN: this is not a reference" in result.stderr, result.stderr
    assert token not in result.stdout + result.stderr


def test_a_file_that_is_not_a_config_gets_one_error_and_none_of_its_content(project: Project) -> None:
    secret = unique("Zq", 30)
    shadow = project.write("shadowlike", "".join(f"user{i}:$6${secret}{i}:19000:0:99999:7:::\n" for i in range(5)))
    project.write("configs/extending.yaml", f"extends: {shadow}\n" + project.config.read_text())
    extended = project.smlaunch("validate", "configs/extending.yaml")
    assert extended.code == 2 and "not a job config" in extended.stderr and "1 problem" in extended.stderr
    assert secret not in extended.stdout + extended.stderr and "user1" not in extended.stderr
    os.symlink(shadow, project.root / "configs/train/linked.yaml")
    project.write("configs/linked.yaml", project.config.read_text().replace("train/digits.yaml", "train/linked.yaml"))
    linked = project.smlaunch("validate", "configs/linked.yaml")
    assert linked.code == 2 and "not a training config" in linked.stderr, linked.stderr
    assert secret not in linked.stdout + linked.stderr


def test_what_the_launcher_and_the_job_write_is_the_owners_alone(project: Project) -> None:
    os.umask(0o022)  # the usual umask: the launcher must not rely on it
    try:
        git(project.root, "commit", "-q", "--allow-empty", "-m", "base")
        (project.root / "configs/local.yaml").write_text(project.config.read_text() + "\n# a change\n")
        result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", "train.epochs=1")
    finally:
        os.umask(0o022)
    assert result.code == 0, result.stderr[-2000:]
    shared = []
    for root in (project.root / ".smlaunch", project.root / "outputs", project.root / "mlruns"):
        for path in [root, *root.rglob("*")]:
            if path.is_symlink() or not path.exists() or path.is_fifo() or path.is_socket():
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                shared.append(f"{path.relative_to(project.root)} {oct(mode)}")
    for path in (project.db,):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            shared.append(f"{path.name} {oct(stat.S_IMODE(path.stat().st_mode))}")
    assert shared == []
    names = {path.name for path in (project.root / ".smlaunch").rglob("*")}
    assert {"hyperparameters.json", "source.tar.gz", "resolved.yaml"} <= names  # among what was checked


def test_a_local_job_without_its_trackers_credentials_stops_at_once(project: Project, mlflow_auth_url: str) -> None:
    laptop = {"MLFLOW_TRACKING_USERNAME": AUTH_USER, "MLFLOW_TRACKING_PASSWORD": AUTH_PASSWORD}
    result = project.smlaunch("run", "configs/local.yaml", "--set", f"tracking.uri={mlflow_auth_url}",
                              "--set", "train.epochs=1", env=laptop, timeout=120)
    assert result.code == 3, result.stderr[-2000:]
    assert "asks for credentials (401) and the local job will have none" in result.stderr
    assert "secrets:" in result.stderr  # what to add
    assert AUTH_PASSWORD not in result.stdout + result.stderr
