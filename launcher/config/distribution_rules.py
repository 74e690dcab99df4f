"""Rules of the `distribution` section (torchrun) against the instance it runs on, located in the config.

The instance's GPU count comes from `sagemaker_api` (EC2's instance data, generated into the table); `local` has
none and `local_gpu` has whatever this machine's GPUs are (counted in the container). A count no source knows is
unknown, not zero: nothing is refused on it, a warning says so, and pre-flight asks EC2 (preflight.instance).
"""

from __future__ import annotations

from typing import Any

from launcher.config import sagemaker_api
from launcher.config.spec import LOCAL, LOCAL_GPU
from launcher.config.yaml_source import ConfigPath, YamlDocument, problem
from launcher.core.errors import ConfigProblem


def instance_gpus(instance_type: str) -> int | None:
    """GPUs of the instance type; None when unknown: only the machine itself can tell (`local_gpu`), or no
    source knows the type (pre-flight then asks EC2)."""
    if instance_type == LOCAL_GPU:
        return None
    return 0 if instance_type == LOCAL else sagemaker_api.gpus(instance_type)


def check_distribution(job: dict[str, Any], document: YamlDocument) -> list[ConfigProblem]:
    found: list[ConfigProblem] = []

    def add(path: ConfigPath, message: str) -> None:
        found.append(problem(document.locate(path), path, message))

    settings = job["distribution"]
    processes, backend = settings["processes_per_host"], settings["backend"]
    if settings["type"] == "none":
        for name, value in (("processes_per_host", processes), ("backend", backend)):
            if value != "auto":
                add(("distribution", name), "only used with distribution.type: torchrun (set it, or remove this)")
        return found
    kind = job["sagemaker"]["instance_type"]
    for name, message in gpu_problems(kind, instance_gpus(kind), processes, backend):
        add(("distribution", name), message)
    return found


def gpu_problems(kind: str, gpus: int | None, processes: str | int, backend: str) -> list[tuple[str, str]]:
    """(field, message) for what a host of `kind` with `gpus` GPUs cannot run; nothing when the count is
    unknown (None): only what is known to be wrong is refused."""
    found = []
    if gpus == 0 and backend == "nccl":
        found.append(("backend", f"nccl needs GPUs and {kind} has none: use gloo (or auto), or a GPU instance type"))
    if gpus and isinstance(processes, int) and processes > gpus:
        found.append(("processes_per_host", f"{kind} has {gpus} GPU(s): at most {gpus} processes per host, one per "
                                            "GPU (or 'auto')"))
    return found


def distribution_warnings(job: dict[str, Any]) -> list[str]:
    """What is allowed but probably not meant (several hosts that each train alone), and what cannot be checked
    here (a GPU count no source knows)."""
    found = []
    count, kind = job["sagemaker"]["instance_count"], job["sagemaker"]["instance_type"]
    sharded = any(channel["distribution"] == "ShardedByS3Key" for channel in job["channels"].values())
    if count > 1 and job["distribution"]["type"] == "none" and not sharded:
        found.append(f"sagemaker.instance_count is {count} without distribution: each host trains the whole task on "
                     "all the data by itself and only algo-1 is recorded; set distribution.type: torchrun to train "
                     "one model across them")
    if job["distribution"]["type"] == "torchrun" and kind != LOCAL_GPU and instance_gpus(kind) is None:
        found.append(f"{kind}'s GPU count is unknown here: distribution.processes_per_host and backend are checked "
                     "against it at pre-flight, when EC2 answers")
    return found
