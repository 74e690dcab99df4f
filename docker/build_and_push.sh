#!/usr/bin/env bash
# Build the training image, tag it with the git sha (and an optional tag), push it to ECR and print the pushed
# image's digest URI (<registry>/<repository>@sha256:...), the value to put in a config's sagemaker.image.
#
#   docker/build_and_push.sh [--no-push] [-t TAG] [-n REPOSITORY] [-r REGION] [--base-image IMAGE]
#
# --no-push builds only (make build). Pushing needs the aws CLI with credentials; the ECR repository is
# created when missing. PIP_CERT and PIP_FIND_LINKS, when set, are handed to the build as optional inputs.
set -euo pipefail

repository="smlaunch-train"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
extra_tag=""
base_image=""
push=1

die() { echo "build_and_push: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --no-push) push=0 ;;
    -t|--tag) extra_tag="${2:?-t needs a tag}"; shift ;;
    -n|--name) repository="${2:?-n needs a repository name}"; shift ;;
    -r|--region) region="${2:?-r needs a region}"; shift ;;
    --base-image) base_image="${2:?--base-image needs an image}"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v docker >/dev/null 2>&1 || die "docker not found: install Docker (or use mode local-process)"

sha="$(git rev-parse --short=12 HEAD 2>/dev/null || echo nogit)"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then sha="${sha}-dirty"; fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)"
# The dependency set the image is built from; pre-flight compares it with the checkout's (stale image = exit 3).
deps="$(cat requirements.lock docker/requirements.txt | sha256sum | cut -c1-64)"

# Optional inputs for closed networks: a CA bundle for pip and local torch wheels (hard links, no copies).
inputs="docker/build-inputs"
mkdir -p "$inputs"
find "$inputs" -mindepth 1 ! -name README.md -delete
mkdir -p "$inputs/wheels"
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then cp "$PIP_CERT" "$inputs/ca.pem"; fi
if [ -n "${PIP_FIND_LINKS:-}" ] && [ -d "$PIP_FIND_LINKS" ]; then
  for wheel in "$PIP_FIND_LINKS"/torch-*.whl; do
    [ -e "$wheel" ] || continue
    ln "$wheel" "$inputs/wheels/" 2>/dev/null || cp "$wheel" "$inputs/wheels/"
  done
fi

build_args=(--build-arg "VERSION=$version" --build-arg "GIT_SHA=$sha" --build-arg "DEPS_SHA256=$deps")
if [ -n "$base_image" ]; then build_args+=(--build-arg "BASE_IMAGE=$base_image"); fi
local_tags=(-t "$repository:$sha")
if [ -n "$extra_tag" ]; then local_tags+=(-t "$repository:$extra_tag"); fi
DOCKER_BUILDKIT=0 docker build --network host -f docker/Dockerfile "${build_args[@]}" "${local_tags[@]}" .
echo "built $repository:$sha" >&2

if [ "$push" -eq 0 ]; then
  echo "$repository:$sha"
  exit 0
fi

command -v aws >/dev/null 2>&1 || die "aws CLI not found: install it to push (https://aws.amazon.com/cli/)"
account="$(aws sts get-caller-identity --query Account --output text)" \
  || die "no usable AWS credentials: run 'aws configure' or set AWS_PROFILE"
[ -n "$region" ] || region="$(aws configure get region || true)"
[ -n "$region" ] || die "no AWS region: pass -r REGION or set AWS_REGION"
registry="$account.dkr.ecr.$region.amazonaws.com"

if ! aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1; then
  echo "creating ECR repository $repository" >&2
  aws ecr create-repository --region "$region" --repository-name "$repository" >/dev/null
fi
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"

for tag in "$sha" "deps-${deps:0:16}" ${extra_tag:+"$extra_tag"}; do
  docker tag "$repository:$sha" "$registry/$repository:$tag"
  docker push "$registry/$repository:$tag"
done
digest="$(aws ecr describe-images --region "$region" --repository-name "$repository" \
  --image-ids "imageTag=$sha" --query 'imageDetails[0].imageDigest' --output text)"
echo "$registry/$repository@$digest"
