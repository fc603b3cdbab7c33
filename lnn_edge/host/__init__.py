"""The host side of verification: compile the generated C with gcc and compare it bit for bit with the emulator."""
