"""A Docker engine and a locally built training image for tests, or a skip that says why not.

No registry is reachable here, so the base image is a Debian root file system made with `debootstrap` and
loaded with `docker import`. When no engine answers, one is started as `dockerd --bridge=none
--iptables=false` (containers use host networking only; no bridge network exists) and stopped afterwards.
Images persist in its data root, so later runs on the same machine reuse the base and the dependency layer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import skip_unless_required
from tests.services import end_process

SOCKET = "unix:///run/smlaunch-dockerd.sock"
DATA_ROOT = "/var/lib/smlaunch-docker"
BASE_IMAGE = "smlaunch-base:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def _unavailable(reason: str) -> None:
    skip_unless_required(reason, "REQUIRE_DOCKER")


def answers(host: str | None) -> bool:
    env = {**os.environ, **({"DOCKER_HOST": host} if host else {})}
    try:
        done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], env=env,
                              capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextmanager
def docker_engine() -> Iterator[str | None]:
    """Yield a DOCKER_HOST value (None: the default engine) for an engine that answers."""
    if shutil.which("docker") is None:
        _unavailable("docker CLI not installed (apt-get install docker.io)")
    if answers(os.environ.get("DOCKER_HOST")):
        yield os.environ.get("DOCKER_HOST")
        return
    if answers(SOCKET):
        yield SOCKET
        return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        _unavailable("no Docker engine reachable, and dockerd cannot be started here (needs root and docker.io)")
    Path(DATA_ROOT).mkdir(parents=True, exist_ok=True)
    Path(SOCKET.removeprefix("unix://")).unlink(missing_ok=True)  # a stale socket from a daemon that was killed
    log = Path(tempfile.mkdtemp(prefix="dockerd-")) / "dockerd.log"
    with log.open("wb") as sink:
        daemon = subprocess.Popen(
            ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false", "--host", SOCKET,
             "--data-root", DATA_ROOT, "--exec-root", "/run/smlaunch-docker", "--pidfile", "/run/smlaunch-dockerd.pid"],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not answers(SOCKET):
            if daemon.poll() is not None or time.monotonic() > deadline:
                _unavailable(f"dockerd did not start: {log.read_text()[-800:]}")
            time.sleep(0.5)
        yield SOCKET
    finally:
        end_process(daemon, grace=30)


def debian_mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return DEFAULT_MIRROR


def ensure_base_image(env: dict[str, str]) -> str:
    """A python3 base image made locally (debootstrap → docker import), once per engine."""
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], env=env, capture_output=True).returncode == 0:
        return BASE_IMAGE
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        _unavailable("no base image and no way to make one (debootstrap as root; apt-get install debootstrap)")
    root = Path(tempfile.mkdtemp(prefix="rootfs-"))
    try:
        made = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-pip,python3-venv,ca-certificates",
             "bookworm", str(root), debian_mirror()], capture_output=True, text=True, timeout=900, check=False)
        if made.returncode != 0:
            _unavailable(f"debootstrap failed: {made.stdout[-500:]}{made.stderr[-500:]}")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE_IMAGE], stdin=tar.stdout, env=env, check=True,
                       capture_output=True, timeout=600)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return BASE_IMAGE
