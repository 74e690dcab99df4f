"""Is the data there, readable by the job, and in the job's region?

S3 matches a channel's URI as a key prefix: `s3://b/data/digits` also pulls in `data/digits-old/...`, and a
prefix holding only a folder marker holds no data. The files the training config names (fields marked
`x-file-in-channel` in the task's schema) must exist inside their channel, and not sit in an archive storage
class (GLACIER, DEEP_ARCHIVE) without a finished restore. Every bucket the job uses must be in its region. The
checkpoint prefix must be the job's own: outside the data, and holding no other run's checkpoint.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from launcher.cloud.aws import Aws, AwsError, split_s3_uri
from launcher.config.spec import Channel, LaunchSpec
from launcher.preflight.report import Caveat
from train.contract.paths import CHECKPOINT_OWNER_FILE

ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")


def check_channel(aws: Aws, channel: Channel) -> str:
    """Real objects under the channel's prefix; a neighbouring prefix it also matches is a caveat."""
    _, prefix = split_s3_uri(channel.uri)
    objects = [item for item in aws.list_objects(channel.uri) if not item["Key"].endswith("/")]
    inside = [item for item in objects if prefix.endswith("/") or item["Key"] == prefix
              or item["Key"].startswith(prefix + "/")]
    kept = {item["Key"] for item in inside}
    stem = prefix.rsplit("/", 1)[-1]  # datasets/digits → digits; a neighbour is digits-old/...
    neighbours = sorted({stem + item["Key"][len(prefix):].split("/")[0] + "/" for item in objects
                         if item["Key"] not in kept})
    if not inside:
        also = f" (only in neighbouring prefixes: {', '.join(neighbours[:3])})" if neighbours else ""
        raise AwsError(f"no data under {channel.uri}{also}: upload it there first, or fix the URI")
    archived = [item["Key"] for item in inside if item.get("StorageClass") in ARCHIVED]
    for key in archived[:20]:
        _readable(aws, f"s3://{split_s3_uri(channel.uri)[0]}/{key}")
    size = sum(int(item.get("Size", 0)) for item in inside)
    detail = f"{len(inside)} objects, {size / 2**20:.1f} MiB under {channel.uri}"
    if neighbours:
        raise Caveat(f"{detail}; the prefix also matches {', '.join(neighbours[:3])}, which "
                     "SageMaker downloads too: end the URI with /")
    return detail


def _readable(aws: Aws, uri: str) -> dict[str, object]:
    found = aws.head_object(uri)
    if found is None:
        raise AwsError(f"{uri} does not exist")
    storage = str(found.get("StorageClass", "STANDARD"))
    restore = str(found.get("Restore", ""))
    if storage in ARCHIVED and 'ongoing-request="false"' not in restore:
        state = "being restored" if 'ongoing-request="true"' in restore else "not restored"
        raise AwsError(f"{uri} is archived ({storage}, {state}): the job cannot read it; restore it first "
                       "(S3 RestoreObject) or copy it to a readable storage class")
    return found


def check_file(aws: Aws, spec: LaunchSpec, field: str, channel_name: str, name: str) -> str:
    """A file the training config names exists inside its channel and can be read."""
    channel = next((c for c in spec.channels if c.name == channel_name), None)
    if channel is None:
        raise AwsError(f"{field} reads channel {channel_name!r}, which the job config does not define")
    uri = channel.uri.rstrip("/") + "/" + name
    if channel.uri.startswith("s3://"):
        found = _readable(aws, uri)
        return f"{uri} ({int(str(found.get('ContentLength', 0))) / 2**20:.1f} MiB)"
    if not Path(uri).is_file():
        raise AwsError(f"{field}: {uri} does not exist (the task would fail opening it)")
    return uri


def check_bucket_region(aws: Aws, bucket: str, region: str, used_for: str) -> str:
    found = aws.bucket_region(bucket)
    if found != region:
        raise AwsError(f"bucket {bucket} ({used_for}) is in {found}, the job runs in {region}: SageMaker reads and "
                       f"writes S3 in the job's region; use a bucket in {region} or set sagemaker.region: {found}")
    return f"{bucket} is in {region}"


def buckets(spec: LaunchSpec) -> dict[str, list[str]]:
    """{bucket: what the job uses it for}."""
    used: dict[str, list[str]] = {}
    places = [(f"channel {c.name}", c.uri) for c in spec.channels]
    places += [("output", spec.job.output_path), ("configs", spec.job.config_prefix or ""),
               ("checkpoints", spec.job.checkpoint_s3_uri or "")]
    for purpose, uri in places:
        if uri.startswith("s3://"):
            used.setdefault(split_s3_uri(uri)[0], []).append(purpose)
    return used


def _inside(uri: str, prefix_uri: str) -> bool:
    """Whether S3 lists `uri`'s objects under `prefix_uri` (same bucket, key prefix as SageMaker matches it)."""
    bucket, key = split_s3_uri(uri)
    other_bucket, prefix = split_s3_uri(prefix_uri)
    return bucket == other_bucket and key.startswith(prefix)


def check_checkpoints(aws: Aws, spec: LaunchSpec) -> str:
    """The checkpoint prefix is the job's own: not inside a channel (every later job would download the
    checkpoints as data), and holding no checkpoint of another run (the job would resume from it and record
    that run's model as its own)."""
    uri = spec.job.checkpoint_s3_uri or ""
    for channel in spec.channels:
        if channel.uri.startswith("s3://") and _inside(uri.rstrip("/") + "/", channel.uri):
            raise AwsError(f"{uri} is inside channel {channel.name}'s prefix ({channel.uri}): every job would "
                           "download the checkpoints as training data; keep checkpoints outside the data")
    objects = [item for item in aws.list_objects(uri.rstrip("/") + "/", limit=1000) if not item["Key"].endswith("/")]
    if not objects:
        return f"{uri} holds no checkpoint: the job starts from the beginning and checkpoints there"
    bucket, _ = split_s3_uri(uri)
    owner_key = next((item["Key"] for item in objects if item["Key"].endswith("/" + CHECKPOINT_OWNER_FILE)), None)
    writer = "an earlier job"
    body = aws.read_object(f"s3://{bucket}/{owner_key}") if owner_key is not None else None
    if body is not None:
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            writer = f"run {json.loads(body.read())['run_id']}"
    raise AwsError(f"{uri} already holds a checkpoint of {writer} ({len(objects)} objects): this job would "
                   "resume from it and record that run's model as its own; give this job its own "
                   "checkpoint_s3_uri (e.g. one per experiment and run name) or remove the old checkpoints")
