"""Benchmarks of an export: instruction counts on emulated cores, flash and RAM from the ELF, host speed."""
