"""The host harness: compile the generated C with cffi and run it from NumPy.

The extension is cached by a hash of the sources and flags (``~/.cache/lnn-edge/harness`` or
``$LNN_EDGE_CACHE``), so verifying the same export twice compiles once. A small batch runner is compiled
next to the model (it is not part of the export): it resets the state per sequence and steps through
[B, T] inputs in C, so a long verification costs one call per run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.errors import LnnEdgeError, MissingDependencyError

STRICT_FLAGS = [
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Wconversion",
    "-Wshadow",
    "-Wdouble-promotion",
    "-Werror",
    "-pedantic",
]
NUMERIC_FLAGS = ["-O2", "-ffp-contract=off", "-fno-fast-math"]
STATUS_ERR_ARG = -2
"""LNN_ERR_ARG of lnn/lnn_status.h: an argument (a float32 dt) out of its domain."""

BATCH_RUNNER = """
int {name}_run_batch(const {name}_value_t *x, const {name}_time_t *dt, int batch, int steps,
                     {name}_value_t *y, {name}_value_t *states)
{{
    {name}_state_t s;
    int b, t, i, status;
    for (b = 0; b < batch; b++) {{
        {name}_init(&s);
        for (t = 0; t < steps; t++) {{
            long step = (long)b * steps + t;
            status = {name}_step_dt(&s, x + step * {inputs}, dt[step], y + step * {outputs});
            if (status != 0) {{
                return status;
            }}
            for (i = 0; i < {state}; i++) {{
                states[step * {state} + i] = s.state[i];
            }}
        }}
    }}
    return 0;
}}
"""


def cache_root() -> Path:
    return Path(os.environ.get("LNN_EDGE_CACHE", Path.home() / ".cache" / "lnn-edge")) / "harness"


@dataclass
class CompiledModel:
    """A generated model compiled for the host; ``run`` mirrors :meth:`lnn_edge.quant.emulator.Emulator.run`."""

    name: str
    lib: Any
    ffi: Any
    value_dtype: np.dtype
    inputs: int
    outputs: int
    state_size: int

    def run_raw(self, x: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x [B,T,S] and dt [B,T] already in the C types -> y [B,T,M], state [B,T,N] in the C types."""
        batch, steps, _ = x.shape
        x = np.ascontiguousarray(x, dtype=self.value_dtype)
        dt = np.ascontiguousarray(dt, dtype=self.value_dtype)
        y = np.zeros((batch, steps, self.outputs), dtype=self.value_dtype)
        states = np.zeros((batch, steps, self.state_size), dtype=self.value_dtype)
        ctype = self.ffi.typeof(f"{self.name}_value_t *")
        status = getattr(self.lib, f"{self.name}_run_batch")(
            self.ffi.cast(ctype, self.ffi.from_buffer(x)),
            self.ffi.cast(ctype, self.ffi.from_buffer(dt)),
            batch,
            steps,
            self.ffi.cast(ctype, self.ffi.from_buffer(y)),
            self.ffi.cast(ctype, self.ffi.from_buffer(states)),
        )
        if status == STATUS_ERR_ARG:
            raise LnnEdgeError(
                f"the compiled model refused an elapsed time (status {status}, {self.name.upper()}_ERR_ARG): a float32 "
                "LTC needs every dt > 0, a float32 CfC every dt >= 0, neither takes NaN: check the 'dt' of the inputs"
            )
        if status != 0:
            raise LnnEdgeError(f"the compiled model returned status {status}")
        return y, states


def _cdef(name: str, value_type: str, inputs: int, outputs: int, state: int) -> str:
    return f"""
typedef {value_type} {name}_value_t;
typedef {value_type} {name}_time_t;
typedef struct {{ {name}_value_t state[{state}]; ...; }} {name}_state_t; /* and a scratch, in some cells */
int {name}_init({name}_state_t *s);
int {name}_step_dt({name}_state_t *s, const {name}_value_t *x, {name}_time_t dt, {name}_value_t *y);
int {name}_run_batch(const {name}_value_t *x, const {name}_time_t *dt, int batch, int steps,
                     {name}_value_t *y, {name}_value_t *states);
"""


def write_sources(sources: dict[str, bytes], folder: Path) -> Path:
    """Write ``sources`` into a new private build folder; return it."""
    folder.mkdir(parents=True)
    for filename, data in sources.items():
        (folder / filename).parent.mkdir(exist_ok=True)  # lnn/, the runtime library (one level, checked)
        (folder / filename).write_bytes(data)
    return folder


def compile_model(
    sources: dict[str, bytes], name: str, value_type: str, inputs: int, outputs: int, state: int, quiet: bool = True
) -> CompiledModel:
    """Compile ``<name>.c`` from ``sources`` (file name -> bytes: the model's C and headers, nothing else) into
    a cached cffi extension and load it.

    The sources are written to a private folder that is on the quote include path only (``-iquote``), so
    neither a stray file beside an export nor a header named like a system one can take part, and the cache
    key covers exactly the bytes compiled."""
    try:
        import cffi
    except ImportError:  # pragma: no cover - cffi is a core dependency
        raise MissingDependencyError("the host harness needs cffi: pip install cffi") from None
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        raise MissingDependencyError("the host harness needs a C compiler: apt-get install gcc")
    main_source = f"{name}.c"
    if main_source not in sources or f"{name}.h" not in sources:
        raise LnnEdgeError(f"{name}.c or {name}.h is missing from the export: re-run lnn-edge export")
    digest = hashlib.sha256()
    for filename in sorted(sources):
        digest.update(f"{filename}\0{len(sources[filename])}\0".encode())
        digest.update(sources[filename])
    runner = BATCH_RUNNER.format(name=name, inputs=inputs, outputs=outputs, state=state)
    digest.update(runner.encode())
    digest.update(" ".join(STRICT_FLAGS + NUMERIC_FLAGS).encode())
    module_name = f"_lnn_{name}_{digest.hexdigest()[:16]}"
    build_dir = cache_root() / module_name
    library = next(build_dir.glob(f"{module_name}*.so"), None) if build_dir.is_dir() else None
    if library is None:
        build_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=build_dir.parent) as tmp:
            source_dir = write_sources(sources, Path(tmp) / "src")
            ffi = cffi.FFI()
            ffi.cdef(_cdef(name, value_type, inputs, outputs, state))
            ffi.set_source(
                module_name,
                f'#include "{name}.h"\n' + runner,
                sources=[str(source_dir / main_source)],
                # The model's strictness is checked by compiling it alone (lnn_edge.target.toolchain); cffi's own
                # wrapper is not pedantic C99, so only the numeric flags apply here.
                extra_compile_args=[*NUMERIC_FLAGS, "-std=gnu99", f"-iquote{source_dir}"],
            )
            try:
                built = Path(ffi.compile(tmpdir=tmp, verbose=not quiet))
            except Exception as error:
                raise LnnEdgeError(f"compiling {name}.c for the host failed: {error}") from None
            staging = Path(tmp) / "staged"
            staging.mkdir()
            shutil.copy2(built, staging / built.name)
            with contextlib.suppress(OSError):  # another process built it first
                os.replace(staging, build_dir)
        library = next(build_dir.glob(f"{module_name}*.so"))
    spec = importlib.util.spec_from_file_location(module_name, library)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    dtype = {"int16_t": np.int16, "int32_t": np.int32, "float": np.float32}[value_type]
    return CompiledModel(name, module.lib, module.ffi, np.dtype(dtype), inputs, outputs, state)
