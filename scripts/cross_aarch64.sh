#!/usr/bin/env bash
# Cross-builds inference-hub for aarch64 (Graviton, Ampere) on an x86-64
# Debian machine, with Debian's cross toolchain:
#   target/aarch64-unknown-linux-gnu/release/inference-hub
#   vendor/onnxruntime-aarch64/libonnxruntime.so.<ORT_VERSION> (pinned, hash-checked)
# The models are the same files on every architecture (vendor/models).
#
# Rust's aarch64 standard library comes from rustup when it has the target;
# where rustup cannot download (no network but the package registries), from
# Debian's `rustc-web` and its arm64 `libstd-rust-web-dev`, used through
# RUSTC. Run as root (apt). Run the result under emulation with
# scripts/qemu_aarch64.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc

if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
   && ! rustup target add aarch64-unknown-linux-gnu 2>/dev/null; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt_install rustc-web libstd-rust-web-dev:arm64
  export RUSTC=/usr/bin/rustc-web
  [ -x "$RUSTC" ] || RUSTC=$(dpkg -L rustc-web | grep -m1 '/bin/rustc')
fi

SETUP_ARCH=aarch64 SETUP_TEST_TOOLS=0 bash scripts/setup.sh
cargo build --release --locked --target aarch64-unknown-linux-gnu -p inference-hub
echo "cross: target/aarch64-unknown-linux-gnu/release/inference-hub, vendor/onnxruntime-aarch64/"
