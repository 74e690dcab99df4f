"""Is the training image there, in the job's region, for the instance's architecture, and current?

The region comes from the ECR URI itself (an image in another region is reported as such, not as missing);
the tag is pinned to its digest; the manifest (or image index) says which platforms the image has, and a
Graviton instance needs arm64 where the others need amd64; the image's dependency hash is compared with the
checkout's (image_deps).
"""

from __future__ import annotations

import json
from typing import Any

from launcher.cloud.aws import ECR_IMAGE, Aws, AwsError
from launcher.config import sagemaker_api
from launcher.config.spec import LaunchSpec
from launcher.preflight.report import Caveat, PreflightReport

MANIFEST_TYPES = ["application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"]


def check_region(image: str, region: str) -> str:
    match = ECR_IMAGE.match(image)
    if not match:
        raise AwsError(f"{image} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
    if match["region"] != region:
        raise AwsError(f"the image is in {match['region']}, the job runs in {region}: push it to ECR in {region} "
                       f"(make push with AWS_REGION={region}) or set sagemaker.region: {match['region']}")
    return f"ECR in {region}"


def check_image(aws: Aws, spec: LaunchSpec, report: PreflightReport) -> str:
    report.image = aws.resolve_image(spec.job.image or "")
    return f"{spec.job.image} → {report.image.uri}"


def _platforms(manifest: dict[str, Any]) -> list[str] | None:
    """Architectures an image index lists; None for a single-platform manifest (its config blob says)."""
    if "manifests" in manifest:
        return [entry.get("platform", {}).get("architecture", "?") for entry in manifest["manifests"]]
    return None


def check_architecture(aws: Aws, spec: LaunchSpec, report: PreflightReport) -> str:
    """The image runs on the instance's CPU architecture."""
    assert report.image is not None
    match = ECR_IMAGE.match(spec.job.image or "")
    assert match is not None
    wanted = sagemaker_api.architecture(spec.job.instance_type)
    found = aws.call("ecr", "batch_get_image", f"cannot read the manifest of {report.image.uri}",
                     registryId=match["account"], repositoryName=match["repository"],
                     imageIds=[{"imageDigest": report.image.digest}], acceptedMediaTypes=MANIFEST_TYPES)
    images = found.get("images", [])
    if not images:
        raise Caveat("the registry returned no manifest: the architecture is not checked")
    platforms = _platforms(json.loads(images[0].get("imageManifest", "{}")))
    if platforms is None:
        raise Caveat(f"a single-platform image: its architecture is in the config blob, not read here; "
                     f"{spec.job.instance_type} needs linux/{wanted}")
    if wanted not in platforms:
        raise AwsError(f"the image is built for {', '.join(platforms)}; {spec.job.instance_type} runs {wanted}: "
                       f"build for linux/{wanted} (docker build --platform linux/{wanted})")
    return f"has linux/{wanted} for {spec.job.instance_type}"
