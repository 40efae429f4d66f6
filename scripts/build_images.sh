#!/usr/bin/env bash
# Builds the service and gateway images from this checkout.
#   scripts/build_images.sh [TAG]        (TAG defaults to the crate version)
# IMAGE_REPO (default inference-hub) names the images: $IMAGE_REPO:TAG and
# $IMAGE_REPO-gateway:TAG. DOCKER may name another client (e.g. podman).
# PLATFORM=linux/arm64 builds for Graviton/Ampere (under emulation on x86:
# the set-up inside picks ONNX Runtime's aarch64 wheel by `uname -m`, and
# every pinned wheel has its aarch64 hash); default: the engine's own.
# Needs a running container engine; none runs on the development machines,
# so CI checks the Dockerfiles statically (crates/server/tests/deploy.rs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
docker=${DOCKER:-docker}
repo=${IMAGE_REPO:-inference-hub}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
tag=${1:-$version}

platform=()
[ -z "${PLATFORM:-}" ] || platform=(--platform "$PLATFORM")
"$docker" build "${platform[@]}" -f "$root/deploy/docker/Dockerfile" -t "$repo:$tag" "$root"
"$docker" build "${platform[@]}" -f "$root/deploy/docker/Dockerfile.gateway" -t "$repo-gateway:$tag" "$root"
echo "built $repo:$tag and $repo-gateway:$tag"
