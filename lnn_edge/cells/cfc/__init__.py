"""The CfC cell, dense (``cfc``) and wired (``wired_cfc``): ``kind.py`` (the model level: options, arrays, ncps
import), ``cell.py`` (the pipeline: quantizer, emulator, code generator, reference) and the modules they tie
together. Nothing is imported here, so that the model layer can read ``kind.py`` without loading the pipeline."""
