"""The LTC cell: its quantizer, its bit-exact emulator step and its code-generator context."""
