"""docker/build_and_push.sh with recording stand-ins for `aws` and `docker` on PATH (no registry is reachable)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

# The fakes keep state like a registry: `docker push` records what it pushed, and `describe-images` answers only
# for a tag that was pushed, with a digest derived from that tag. So the digest the script prints proves it
# asked for the tag it pushed, not just that it echoed a canned answer.
FAKE_AWS = """#!/bin/sh
echo "aws $*" >> "$CALLS"
case "$*" in
  "sts get-caller-identity --query Account --output text") echo 123456789012 ;;
  "ecr describe-repositories"*) [ -f "$STATE/repo" ] || exit 254 ;;
  "ecr create-repository"*) touch "$STATE/repo" ;;
  "ecr get-login-password"*) echo secret-token ;;
  "ecr describe-images"*)
    tag="${*##*imageTag=}"; tag="${tag%% *}"
    grep -qx "smlaunch-train:$tag" "$STATE/pushed" 2>/dev/null || { echo "ImageNotFoundException" >&2; exit 254; }
    echo "sha256:$(printf %s "$tag" | sha256sum | cut -c1-64)" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"""
FAKE_DOCKER = """#!/bin/sh
if [ "$1" = login ]; then echo "docker $* <stdin:$(cat)>" >> "$CALLS"; else echo "docker $*" >> "$CALLS"; fi
if [ "$1" = push ]; then echo "${2##*/}" >> "$STATE/pushed"; fi
"""


def digest_of(tag: str) -> str:
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "docker").mkdir(parents=True)
    shutil.copy(REPO / "docker/build_and_push.sh", repo / "docker/")
    shutil.copy(REPO / "pyproject.toml", repo)
    shutil.copy(REPO / "requirements.lock", repo)
    shutil.copy(REPO / "docker/requirements.txt", repo / "docker")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=repo, check=True)
    tools = tmp_path / "tools"  # the basics the script needs, and neither docker nor aws
    tools.mkdir()
    basics = ("bash", "sh", "git", "sed", "find", "mkdir", "cp", "ln", "head", "dirname", "cat", "env", "rm", "touch",
              "grep", "sha256sum", "cut", "printf")
    for tool in basics:
        (tools / tool).symlink_to(shutil.which(tool))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "state").mkdir()
    return tmp_path


def run_script(workspace: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{path or workspace / 'bin'}:{workspace / 'tools'}",
           "CALLS": str(workspace / "calls"), "STATE": str(workspace / "state"), "AWS_REGION": "eu-west-1",
           "PIP_CERT": "", "PIP_FIND_LINKS": ""}
    return subprocess.run([str(workspace / "repo/docker/build_and_push.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_build_create_login_tag_push_and_digest(workspace: Path) -> None:
    done = run_script(workspace, "-t", "latest")
    assert done.returncode == 0, done.stderr
    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=workspace / "repo", capture_output=True,
                         text=True, check=True).stdout.strip()
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    from launcher.preflight.image_deps import checkout_deps_sha256

    deps = checkout_deps_sha256(workspace / "repo")  # the shell script and pre-flight agree on the hash
    assert deps is not None and deps == checkout_deps_sha256()
    assert (workspace / "calls").read_text().splitlines() == [
        "docker build --network host -f docker/Dockerfile --build-arg VERSION=0.1.0 "
        f"--build-arg GIT_SHA={sha} --build-arg DEPS_SHA256={deps} -t smlaunch-train:{sha} -t smlaunch-train:latest .",
        "aws sts get-caller-identity --query Account --output text",
        "aws ecr describe-repositories --region eu-west-1 --repository-names smlaunch-train",
        "aws ecr create-repository --region eu-west-1 --repository-name smlaunch-train",
        "aws ecr get-login-password --region eu-west-1",
        f"docker login --username AWS --password-stdin {registry} <stdin:secret-token>",
        f"docker tag smlaunch-train:{sha} {registry}/smlaunch-train:{sha}",
        f"docker push {registry}/smlaunch-train:{sha}",
        f"docker tag smlaunch-train:{sha} {registry}/smlaunch-train:deps-{deps[:16]}",
        f"docker push {registry}/smlaunch-train:deps-{deps[:16]}",
        f"docker tag smlaunch-train:{sha} {registry}/smlaunch-train:latest",
        f"docker push {registry}/smlaunch-train:latest",
        f"aws ecr describe-images --region eu-west-1 --repository-name smlaunch-train --image-ids imageTag={sha} "
        "--query imageDetails[0].imageDigest --output text",
    ]
    assert done.stdout.strip().splitlines()[-1] == f"{registry}/smlaunch-train@{digest_of(sha)}"


def test_existing_repository_is_not_created_again(workspace: Path) -> None:
    (workspace / "state/repo").touch()
    assert run_script(workspace).returncode == 0
    assert not any("create-repository" in line for line in (workspace / "calls").read_text().splitlines())


@pytest.mark.parametrize(("present", "message"), [("aws", "docker not found: install Docker"),
                                                  ("docker", "aws CLI not found")])
def test_a_missing_tool_is_named(workspace: Path, present: str, message: str) -> None:
    only = workspace / f"only-{present}"
    only.mkdir()
    (only / present).symlink_to(workspace / "bin" / present)
    done = run_script(workspace, path=str(only))
    assert done.returncode == 1
    assert message in done.stderr


def test_missing_credentials_are_named(workspace: Path) -> None:
    (workspace / "bin/aws").write_text('#!/bin/sh\necho "Unable to locate credentials" >&2\nexit 255\n')
    done = run_script(workspace)
    assert done.returncode == 1
    assert "no usable AWS credentials" in done.stderr


def test_no_push_only_builds(workspace: Path) -> None:
    done = run_script(workspace, "--no-push", "--base-image", "debian-python:local")
    assert done.returncode == 0, done.stderr
    (call,) = (workspace / "calls").read_text().splitlines()
    assert call.startswith("docker build --network host") and "--build-arg BASE_IMAGE=debian-python:local" in call


def test_docker_files_pass_hadolint_and_shellcheck() -> None:
    bin_dir = Path(os.sys.executable).parent
    hadolint = subprocess.run([str(bin_dir / "hadolint"), str(REPO / "docker/Dockerfile")], capture_output=True,
                              text=True, check=False)
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
    scripts = [str(REPO / "docker/build_and_push.sh"), str(REPO / ".ci/run")]
    shellcheck = subprocess.run([str(bin_dir / "shellcheck"), *scripts], capture_output=True, text=True, check=False)
    assert shellcheck.returncode == 0, shellcheck.stdout + shellcheck.stderr
