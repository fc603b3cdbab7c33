"""Code generation: C sources from a quantized model, and the export folder with its manifest."""
