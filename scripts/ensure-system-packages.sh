#!/usr/bin/env bash
# Make sure the Debian packages lnn-edge needs are present: host gcc (cffi harness), the Arm cross toolchain
# with newlib and the RISC-V one with picolibc (firmware builds; RISC-V images are -nostdlib, but take their
# C headers from picolibc), QEMU for Arm and for RISC-V (qemu-system-misc has qemu-system-riscv32: the
# emulated boards), and clang with libFuzzer's runtime and the LLVM tools (fuzzing the firmware's protocol
# server, docs/fuzzing.md). Installs them when missing and running as root on Debian/Ubuntu; otherwise says
# exactly what to install and fails.
set -euo pipefail

packages=(gcc gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc-riscv64-unknown-elf
    picolibc-riscv64-unknown-elf qemu-system-misc clang libclang-rt-dev llvm)

have() {
    case "$1" in
        gcc) command -v gcc >/dev/null ;;
        gcc-arm-none-eabi) command -v arm-none-eabi-gcc >/dev/null ;;
        libnewlib-arm-none-eabi) [ -e /usr/lib/arm-none-eabi/newlib ] || [ -e /usr/lib/arm-none-eabi/lib/libc.a ] ;;
        qemu-system-arm) command -v qemu-system-arm >/dev/null ;;
        gcc-riscv64-unknown-elf) command -v riscv64-unknown-elf-gcc >/dev/null ;;
        picolibc-riscv64-unknown-elf) [ -e /usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs ] ;;
        qemu-system-misc) command -v qemu-system-riscv32 >/dev/null ;;
        clang) command -v clang >/dev/null ;;
        # libFuzzer's runtime (-fsanitize=fuzzer links it); clang alone does not bring it.
        libclang-rt-dev) compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null ;;
        llvm) command -v llvm-symbolizer >/dev/null && command -v llvm-cov >/dev/null \
            && command -v llvm-profdata >/dev/null ;;
    esac
}

missing=()
for package in "${packages[@]}"; do
    have "$package" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (apt-get, --no-install-recommends)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi

echo "lnn-edge needs these system packages: ${missing[*]}" >&2
echo "install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
exit 1
