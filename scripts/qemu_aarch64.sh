#!/usr/bin/env bash
# Runs the cross-built aarch64 inference-hub under qemu-user (correctness
# only: emulation is ~500x slower). qemu 7.2 passes the host's x86
# /proc/cpuinfo through, on which ONNX Runtime's CPU detection crashes, so
# an ARM one is bind-mounted over it in a private mount namespace (root).
#   QEMU_CPU=neoverse-n1 scripts/qemu_aarch64.sh ocr --profile accurate receipt.jpg
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cpuinfo=$(mktemp)
trap 'rm -f "$cpuinfo"' EXIT
for i in 0 1; do
  printf 'processor\t: %s\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' "$i"
done >"$cpuinfo"
export ORT_DYLIB_PATH="$root/vendor/onnxruntime-aarch64/libonnxruntime.so.$(cat "$root/ORT_VERSION")"
unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec qemu-aarch64 -cpu "${QEMU_CPU:-neoverse-n1}" -L /usr/aarch64-linux-gnu "$@"' \
  "$cpuinfo" "$root/target/aarch64-unknown-linux-gnu/release/inference-hub" "$@"
