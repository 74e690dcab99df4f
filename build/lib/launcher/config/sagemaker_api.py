"""What SageMaker's API accepts, as data: instance types, GPU counts, limits and patterns of CreateTrainingJob.

Read from a table generated from two named sources, not copied by hand: botocore's service model for
SageMaker (instance types, limits, patterns) and the SageMaker SDK's `instance_gpu_info.json` (GPUs per
instance type). `make tables` regenerates `sagemaker_api.json`; a test fails when it no longer matches the
installed botocore and SDK. Reading a small JSON file keeps `validate` fast (botocore's model is 5 MB).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent / "sagemaker_api.json"
GRAVITON = re.compile(r"^ml\.[a-z]+\d+g[a-z]*\.")  # ml.m6g.xlarge, ml.c7gn.large: arm64 instances


@cache
def table() -> dict[str, Any]:
    with TABLE.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def instance_types() -> list[str]:
    return list(table()["instance_types"])


def gpus(instance_type: str) -> int:
    """GPUs of a SageMaker instance type (0 for CPU types and `local`)."""
    return int(table()["gpus"].get(instance_type, 0))


def architecture(instance_type: str) -> str:
    """The image platform an instance type runs: arm64 for Graviton types, amd64 for the rest."""
    return "arm64" if GRAVITON.match(instance_type) else "amd64"


def limit(name: str) -> Any:
    return table()["limits"][name]


def generate() -> dict[str, Any]:
    """The table, from the installed botocore and SageMaker SDK (run by `make tables`)."""
    from importlib import metadata

    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    request = model.operation_model("CreateTrainingJob").input_shape.members
    resources = request["ResourceConfig"].members
    tag = request["Tags"].member.members
    gpu_file = _sdk_gpu_file()
    by_region = json.loads(gpu_file.read_text(encoding="utf-8"))
    counts = {name: info["Count"] for region in by_region.values() for name, info in region.items()}
    return {
        "sources": {"botocore": metadata.version("botocore"), "sagemaker-core": metadata.version("sagemaker-core"),
                    "gpus_from": "sagemaker/core/image_uri_config/instance_gpu_info.json"},
        "instance_types": list(resources["InstanceType"].enum),
        "gpus": dict(sorted(counts.items())),
        "limits": {
            "keep_alive_seconds_max": resources["KeepAlivePeriodInSeconds"].metadata["max"],
            "volume_size_gb_min": resources["VolumeSizeInGB"].metadata["min"],
            "environment_entries": request["Environment"].metadata["max"],
            "environment_value_chars": request["Environment"].value.metadata["max"],
            "hyperparameters": request["HyperParameters"].metadata["max"],
            "hyperparameter_value_chars": request["HyperParameters"].value.metadata["max"],
            "tags": request["Tags"].metadata["max"],
            "tag_key_chars": tag["Key"].metadata["max"],
            "tag_value_chars": tag["Value"].metadata["max"],
            "tag_pattern": tag["Key"].metadata["pattern"],
        },
    }


def _sdk_gpu_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("sagemaker.core")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the SageMaker SDK (sagemaker-core) is needed to generate the table")
    return Path(next(iter(spec.submodule_search_locations))) / "image_uri_config" / "instance_gpu_info.json"


def main() -> None:
    TABLE.write_text(json.dumps(generate(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
