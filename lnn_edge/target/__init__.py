"""The target: boards, cross toolchains, firmware builds, flashing, QEMU, the serial protocol and board verification."""
