"""What SageMaker's API accepts and what its instances have, as data: instance types, GPUs and local storage per
type, and the limits and patterns of CreateTrainingJob. The one owner of those numbers: the config checks, the
request builder and pre-flight all read them here.

Read from a table generated from named sources, never copied by hand: botocore's service model for SageMaker
(instance types, limits, patterns); EC2's DescribeInstanceTypes data as moto ships it
(moto/ec2/resources/instance_types.json.gz: GPUs and instance storage of every EC2 type, which a SageMaker
`ml.<type>` runs on), and for the few types EC2 no longer lists, the SageMaker SDK's instance_gpu_info.json.
A type no source knows has an unknown GPU count (None), never zero. `make tables` regenerates
`sagemaker_api.json`; tests/test_tables.py fails when it no longer matches the installed packages. Reading a
small JSON file keeps `validate` fast (botocore's model is 5 MB). Pre-flight asks EC2 itself when AWS answers.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent / "sagemaker_api.json"
GRAVITON = re.compile(r"^ml\.[a-z]+\d+g[a-z]*\.")  # ml.m6g.xlarge, ml.c7gn.large: arm64 instances
EC2_SOURCE = "moto/ec2/resources/instance_types.json.gz"
SDK_SOURCE = "sagemaker/core/image_uri_config/instance_gpu_info.json"
TAG_VALUE_EXTRA = "_.:/=+-@"  # besides letters (\p{L}), separators (\p{Z}) and numbers (\p{N})


@cache
def table() -> dict[str, Any]:
    with TABLE.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def instance_types() -> list[str]:
    return list(table()["instance_types"])


def gpus(instance_type: str) -> int | None:
    """GPUs of a SageMaker instance type; None when no source knows the type (unknown is not zero)."""
    found = table()["instances"].get(instance_type, {}).get("gpus")
    return None if found is None else int(found)


def local_storage_gb(instance_type: str) -> int | None:
    """GB of instance (NVMe) storage the type brings (0: none, it needs a volume); None when unknown."""
    found = table()["instances"].get(instance_type, {}).get("storage_gb")
    return None if found is None else int(found)


def architecture(instance_type: str) -> str:
    """The image platform an instance type runs: arm64 for Graviton types, amd64 for the rest."""
    return "arm64" if GRAVITON.match(instance_type) else "amd64"


def limit(name: str) -> Any:
    return table()["limits"][name]


def tag_value_ok(value: str) -> bool:
    """SageMaker's tag value pattern `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*` (limits.tag_value_pattern), in Python."""
    return all(unicodedata.category(c)[0] in "LZN" or c in TAG_VALUE_EXTRA for c in value)


def job_name_ok(name: str) -> bool:
    return len(name) <= int(limit("job_name_chars")) and re.fullmatch(limit("job_name_pattern"), name) is not None


def generate() -> dict[str, Any]:
    """The table, from the installed botocore, moto (EC2's instance data) and SageMaker SDK (`make tables`)."""
    from importlib import metadata

    from launcher.cloud.aws import service_model

    model = service_model("sagemaker")
    request = model.operation_model("CreateTrainingJob").input_shape.members
    tuning = model.operation_model("CreateHyperParameterTuningJob").input_shape.members
    resources = request["ResourceConfig"].members
    tag = request["Tags"].member.members
    types = list(resources["InstanceType"].enum)
    ec2 = json.loads(gzip.decompress(_package_file("moto", EC2_SOURCE).read_bytes()))
    sdk = json.loads(_package_file("sagemaker.core", SDK_SOURCE).read_text(encoding="utf-8"))
    sdk_gpus = {name: info["Count"] for region in sdk.values() for name, info in region.items()}
    instances: dict[str, dict[str, int | None]] = {}
    for name in types:
        found = ec2.get(name.removeprefix("ml."))
        if found is not None:
            instances[name] = {"gpus": sum(g.get("Count", 0) for g in found.get("GpuInfo", {}).get("Gpus", [])),
                               "storage_gb": int(found.get("InstanceStorageInfo", {}).get("TotalSizeInGB", 0))}
        elif name in sdk_gpus:
            instances[name] = {"gpus": int(sdk_gpus[name]), "storage_gb": None}
    return {
        "sources": {"botocore": metadata.version("botocore"), "moto": metadata.version("moto"),
                    "sagemaker-core": metadata.version("sagemaker-core"), "ec2_instances_from": EC2_SOURCE,
                    "gpus_else_from": SDK_SOURCE},
        "instance_types": types,
        "instances": instances,
        "limits": {
            "job_name_chars": request["TrainingJobName"].metadata["max"],
            "job_name_pattern": request["TrainingJobName"].metadata["pattern"],
            "tuning_job_name_chars": tuning["HyperParameterTuningJobName"].metadata["max"],
            "keep_alive_seconds_max": resources["KeepAlivePeriodInSeconds"].metadata["max"],
            "volume_size_gb_min": resources["VolumeSizeInGB"].metadata["min"],
            "kms_key_chars": request["OutputDataConfig"].members["KmsKeyId"].metadata["max"],
            "kms_key_pattern": request["OutputDataConfig"].members["KmsKeyId"].metadata["pattern"],
            "environment_entries": request["Environment"].metadata["max"],
            "environment_key_chars": request["Environment"].key.metadata["max"],
            "environment_key_pattern": request["Environment"].key.metadata["pattern"],
            "environment_value_chars": request["Environment"].value.metadata["max"],
            "hyperparameters": request["HyperParameters"].metadata["max"],
            "hyperparameter_key_chars": request["HyperParameters"].key.metadata["max"],
            "hyperparameter_value_chars": request["HyperParameters"].value.metadata["max"],
            "tuning_ranges_per_kind": tuning["HyperParameterTuningJobConfig"].members["ParameterRanges"]
            .members["ContinuousParameterRanges"].metadata["max"],
            "tags": request["Tags"].metadata["max"],
            "tag_key_chars": tag["Key"].metadata["max"],
            "tag_key_pattern": tag["Key"].metadata["pattern"],
            "tag_value_chars": tag["Value"].metadata["max"],
            "tag_value_pattern": tag["Value"].metadata["pattern"],
        },
        "request_members": list(request),
    }


def _package_file(package: str, relative: str) -> Path:
    """A data file shipped inside an installed package (located, not imported)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is needed to generate the table (make tables runs in the dev venv)")
    inside = relative.split("/", 2)[-1] if package == "sagemaker.core" else relative.split("/", 1)[1]
    return Path(next(iter(spec.submodule_search_locations))) / inside


def render() -> str:
    return json.dumps(generate(), indent=1, sort_keys=False) + "\n"


def main() -> None:
    TABLE.write_text(render(), encoding="utf-8")
    print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
