"""lnn-edge: liquid neural networks (LTC, CfC, NCP) on Cortex-M microcontrollers, verified bit for bit.

The public API of ``docs/python-api.md`` is importable from here (``from lnn_edge import export, verify_host``).
Each name loads its module on first use: ``import lnn_edge.errors`` stays cheap, torch and the compilers load only
when asked for, and the stages, which import ``__version__`` from here, never import the stages above them through
this file. The training function is ``lnn_edge.train.trainer.train``: the name ``train`` here is the subpackage.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_API = {
    "Model": "lnn_edge.model.model",
    "Calibration": "lnn_edge.model.model",
    "from_module": "lnn_edge.model.importers",
    "from_state_dict": "lnn_edge.model.importers",
    "load_torch_file": "lnn_edge.model.importers",
    "load": "lnn_edge.model.modelfile",
    "save": "lnn_edge.model.modelfile",
    "Sequences": "lnn_edge.model.datafile",
    "summarize": "lnn_edge.model.summary",
    "Reference": "lnn_edge.reference",
    "QuantizedModel": "lnn_edge.quant.qmodel",
    "load_any": "lnn_edge.quant.qmodelfile",
    "quantize": "lnn_edge.quant.quantize",
    "Emulator": "lnn_edge.quant.emulator",
    "Policy": "lnn_edge.quant.report",
    "quantization_report": "lnn_edge.quant.report",
    "load_labelled": "lnn_edge.quant.report",
    "export": "lnn_edge.codegen.export",
    "load_export": "lnn_edge.codegen.export",
    "verify_host": "lnn_edge.host.verify",
    "build_firmware": "lnn_edge.target.build",
    "verify_on_board": "lnn_edge.target.verify",
    "verify_on_port": "lnn_edge.target.verify",
    "bench_export": "lnn_edge.bench.run",
    "TrainConfig": "lnn_edge.train.trainer",
    "run_demo": "lnn_edge.demo",
}

# Written out (not built from _API) so that linters and type checkers read it; tests/test_python_api.py checks
# that both name the same things.
__all__ = [
    "Calibration",
    "Emulator",
    "Model",
    "Policy",
    "QuantizedModel",
    "Reference",
    "Sequences",
    "TrainConfig",
    "__version__",
    "bench_export",
    "build_firmware",
    "export",
    "from_module",
    "from_state_dict",
    "load",
    "load_any",
    "load_export",
    "load_labelled",
    "load_torch_file",
    "quantization_report",
    "quantize",
    "run_demo",
    "save",
    "summarize",
    "verify_host",
    "verify_on_board",
    "verify_on_port",
]

if TYPE_CHECKING:  # the same names for type checkers and editors (import-linter ignores these imports)
    from lnn_edge.bench.run import bench_export
    from lnn_edge.codegen.export import export, load_export
    from lnn_edge.demo import run_demo
    from lnn_edge.host.verify import verify_host
    from lnn_edge.model.datafile import Sequences
    from lnn_edge.model.importers import from_module, from_state_dict, load_torch_file
    from lnn_edge.model.model import Calibration, Model
    from lnn_edge.model.modelfile import load, save
    from lnn_edge.model.summary import summarize
    from lnn_edge.quant.emulator import Emulator
    from lnn_edge.quant.qmodel import QuantizedModel
    from lnn_edge.quant.qmodelfile import load_any
    from lnn_edge.quant.quantize import quantize
    from lnn_edge.quant.report import Policy, load_labelled, quantization_report
    from lnn_edge.reference import Reference
    from lnn_edge.target.build import build_firmware
    from lnn_edge.target.verify import verify_on_board, verify_on_port
    from lnn_edge.train.trainer import TrainConfig


def __getattr__(name: str) -> Any:
    """Load a public name's module the first time the name is asked for (PEP 562)."""
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'lnn_edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
