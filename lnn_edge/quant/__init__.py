"""Quantization: number formats and primitives, calibration, the quantized model and its file, the quantizer
driver, the bit-exact emulator driver and the quantization report."""
