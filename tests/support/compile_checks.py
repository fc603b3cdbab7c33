"""Compiler checks of generated C, for the tests: a strict build alone, cross-compiles per core, a sanitizer run.

These are what "builds with zero warnings under -Wall -Wextra -Wconversion -Wshadow -Werror -pedantic
for every core, and runs clean under ASan/UBSan" means in practice. Only the tests call them, so they live
here; the flags they use (lnn_edge.host.harness.STRICT_FLAGS, lnn_edge.target.toolchain.CORE_FLAGS) stay in the package,
which builds with them too.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.harness import NUMERIC_FLAGS, STRICT_FLAGS
from lnn_edge.target.toolchain import CORE_FLAGS, host_compiler, require_tool


@dataclass
class CompileResult:
    """What one compile printed; ``ok`` is false on any warning (they are errors under -Werror)."""

    ok: bool
    command: list[str]
    output: str


def strict_compile(
    source_dir: Path, name: str, core: str | None = None, extra: list[str] | None = None
) -> CompileResult:
    """Compile ``<name>.c`` alone with the strict flags, for the host (core None) or a Cortex-M core."""
    if core is None:
        compiler = host_compiler()
        target: list[str] = []
    else:
        if core not in CORE_FLAGS:
            raise LnnEdgeError(f"unknown core {core!r}; known: {', '.join(CORE_FLAGS)}")
        compiler = require_tool("arm-none-eabi-gcc")
        target = CORE_FLAGS[core]
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            compiler, *STRICT_FLAGS, *NUMERIC_FLAGS, *target, *(extra or []),
            "-c", str(Path(source_dir) / f"{name}.c"), "-o", str(Path(tmp) / f"{name}.o"),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    return CompileResult(result.returncode == 0 and not result.stderr.strip(), command, result.stderr)


SANITIZER_DRIVER = """
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "{name}.h"

/* Reads B, T and then x [B,T,S] and dt [B,T] as raw {name}_value_t from argv[1]; writes y and state to argv[2].
 * Before every step it fills the struct past the state (a cell's scratch) with a pattern: the results must not
 * depend on it. */
int main(int argc, char **argv)
{{
    FILE *in, *out;
    int header[2];
    long b, t, i;
    {name}_state_t s;
    {name}_value_t x[{NAME}_INPUTS], y[{NAME}_OUTPUTS], dt;
    if (argc != 3 || (in = fopen(argv[1], "rb")) == NULL || (out = fopen(argv[2], "wb")) == NULL) {{
        return 2;
    }}
    if (fread(header, sizeof header, 1, in) != 1) {{
        return 3;
    }}
    for (b = 0; b < header[0]; b++) {{
        {name}_init(&s);
        for (t = 0; t < header[1]; t++) {{
            if (fread(x, sizeof x, 1, in) != 1 || fread(&dt, sizeof dt, 1, in) != 1) {{
                return 4;
            }}
            memset((unsigned char *)&s + sizeof s.state, 0xA5, sizeof s - sizeof s.state);
            if ({name}_step_dt(&s, x, dt, y) != {NAME}_OK) {{
                return 5;
            }}
            fwrite(y, sizeof y, 1, out);
            for (i = 0; i < {NAME}_STATE_SIZE; i++) {{
                fwrite(&s.state[i], sizeof s.state[i], 1, out);
            }}
        }}
    }}
    fclose(in);
    fclose(out);
    return 0;
}}
"""


def sanitizer_run(
    source_dir: Path,
    name: str,
    x_raw: np.ndarray,
    dt_raw: np.ndarray,
    value_dtype: np.dtype,
    outputs: int,
    state: int,
    extra_flags: tuple[str, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Build the model with ASan+UBSan (aborting on the first report), run it on raw inputs, return y, state.
    ``extra_flags`` (e.g. ``-DLNN_THUMB1``) select code paths the host would not otherwise take."""
    compiler = host_compiler()
    batch, steps, _ = x_raw.shape
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        driver = tmp / "driver.c"
        driver.write_text(SANITIZER_DRIVER.format(name=name, NAME=name.upper()))
        binary = tmp / "driver"
        flags = [
            "-std=c99",
            "-g",
            "-O1",
            "-ffp-contract=off",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            *extra_flags,
        ]
        command = [
            compiler,
            *flags,
            "-I",
            str(source_dir),
            str(driver),
            str(Path(source_dir) / f"{name}.c"),
            "-o",
            str(binary),
        ]
        built = subprocess.run(command, capture_output=True, text=True, check=False)
        if built.returncode != 0:
            raise LnnEdgeError(f"sanitizer build failed: {built.stderr.strip()}")
        with open(tmp / "in.bin", "wb") as handle:
            handle.write(np.array([batch, steps], dtype=np.int32).tobytes())
            for b in range(batch):
                for t in range(steps):
                    handle.write(x_raw[b, t].astype(value_dtype).tobytes())
                    handle.write(np.asarray(dt_raw[b, t], dtype=value_dtype).tobytes())
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
        ran = subprocess.run(
            [str(binary), str(tmp / "in.bin"), str(tmp / "out.bin")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if ran.returncode != 0 or ran.stderr.strip():
            raise LnnEdgeError(
                f"the model failed under ASan/UBSan (exit {ran.returncode}): {ran.stderr.strip()[:2000]}"
            )
        raw = np.fromfile(tmp / "out.bin", dtype=value_dtype).reshape(batch, steps, outputs + state)
    return raw[..., :outputs], raw[..., outputs:]
