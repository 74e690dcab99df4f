"""Debugging aids: pdb in a local-process run (--debug), and a clear answer when no Docker engine is there."""

from __future__ import annotations

import os
import subprocess
import sys

from launcher.executors import docker
from tests.conftest import Project


def test_debug_flag_gives_the_task_this_terminal_for_pdb(project: Project) -> None:
    paused = project.task("paused_task", "def run(ctx):\n"
                                          "    answer = 6 * 7\n"
                                          "    breakpoint()\n"
                                          "    ctx.tracker.log_metrics({'answer': answer}, step=1)\n")
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "run", "configs/local.yaml", "--debug", "--output", "json",
         *paused],
        cwd=project.root, input="p answer + 1\nc\n", capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONBREAKPOINT": "pdb.set_trace"},
    )
    assert done.returncode == 0, done.stderr
    assert "(Pdb) 43" in done.stdout  # pdb answered on the terminal the task shares with us
    (run,) = project.runs()
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"answer": 42.0}


def test_debug_flag_is_refused_for_other_modes(project: Project) -> None:
    result = project.smlaunch("run", "configs/container.yaml", "--debug")
    assert result.code == 2
    assert "--debug is for mode local-process" in result.stderr
    assert project.runs() == []


def test_local_container_without_an_engine_fails_preflight_and_creates_nothing(project: Project) -> None:
    result = project.smlaunch("run", "configs/container.yaml",
                              env={"DOCKER_HOST": f"unix://{project.root / 'no-such.sock'}"})
    assert result.code == 3, result.stderr
    assert "FAIL docker engine: " in result.stderr
    assert "or use mode local-process" in result.stderr
    assert project.runs() == []


def test_containers_use_host_networking_and_pass_values_by_name_only() -> None:
    argv = docker.run_command("img:1", "job-algo-1", {"SECRET": "v", "SM_CURRENT_HOST": "algo-1"},
                              [("/tmp/tree", "/opt/ml")], ["train"])
    assert argv[:6] == ["docker", "run", "--rm", "--network", "host", "--name"]
    assert "bridge" not in " ".join(argv)
    assert "v" not in argv and "-e" in argv and "SECRET" in argv
    assert argv[-2:] == ["img:1", "train"]
