"""The CfC cell (dense and wired): its quantizer, its bit-exact emulator step and its code-generator context."""
