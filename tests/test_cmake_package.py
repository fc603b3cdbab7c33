"""The CMake package of every export, with Debian's cmake and the host gcc: a consumer project links two different
exported models (an LTC fixed16 and a CfC float32) into one executable, through add_subdirectory and through
find_package after cmake --install, and its steps equal the NumPy emulator bit for bit (outputs and state)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_firmware_helpers import shared_export, short_sequences

from lnn_edge.codegen.export import Export
from lnn_edge.host.verify import emulator_raw, first_mismatch, raw_inputs
from lnn_edge.quant.emulator import Emulator

C_TYPES = {"int16_t": np.int16, "int32_t": np.int32, "float": np.float32}

RUNNER = """
#include <stdio.h>
#include "{a}.h"
#include "{b}.h"
{functions}
/* argv: for each model, the file of raw inputs (batch, steps, then per step x and dt) and the file of outputs. */
int main(int argc, char **argv)
{{
    if (argc != 5) {{
        return 2;
    }}
    return run_{a}(argv[1], argv[2]) || run_{b}(argv[3], argv[4]);
}}
"""

RUN_MODEL = """
static int run_{m}(const char *in_path, const char *out_path)
{{
    FILE *in = fopen(in_path, "rb"), *out = fopen(out_path, "wb");
    int header[2], b, t;
    {m}_state_t s;
    {m}_value_t x[{M}_INPUTS], y[{M}_OUTPUTS], dt;
    if (in == NULL || out == NULL || fread(header, sizeof header, 1, in) != 1) {{
        return 3;
    }}
    for (b = 0; b < header[0]; b++) {{
        {m}_init(&s);
        for (t = 0; t < header[1]; t++) {{
            if (fread(x, sizeof x, 1, in) != 1 || fread(&dt, sizeof dt, 1, in) != 1) {{
                return 4;
            }}
            if ({m}_step_dt(&s, x, dt, y) != {M}_OK) {{
                return 5;
            }}
            fwrite(y, sizeof y, 1, out);
            fwrite({m}_get_state(&s), sizeof s.state, 1, out);
        }}
    }}
    fclose(in);
    fclose(out);
    return 0;
}}
"""


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list[Export]:
    """Two different models in two exports, each with its own lnn/ copy: an LTC fixed16 and a CfC float32."""
    return [shared_export(tmp_path_factory, "fixed16", "ltc"), shared_export(tmp_path_factory, "float32", "cfc")]


def cmake(*args: str | Path) -> str:
    """Run cmake; fail the test with its output when it fails."""
    result = subprocess.run(["cmake", *map(str, args)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"cmake {' '.join(map(str, args))}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def write_consumer(folder: Path, exports: list[Export], how: str) -> None:
    """A consumer project: one executable stepping both models, the models added by ``how``."""
    folder.mkdir()
    a, b = (e.name for e in exports)
    functions = "".join(RUN_MODEL.format(m=e.name, M=e.name.upper()) for e in exports)
    (folder / "runner.c").write_text(RUNNER.format(a=a, b=b, functions=functions))
    if how == "add_subdirectory":
        adds = "\n".join(f'add_subdirectory("{e.directory}" lnn_{e.name})' for e in exports)
    else:
        adds = "\n".join(f"find_package(lnn_{e.name} REQUIRED)" for e in exports)
    (folder / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.19)
project(consumer C)
{adds}
add_executable(runner runner.c)
target_compile_options(runner PRIVATE -Wall -Wextra -Werror)
target_link_libraries(runner PRIVATE {" ".join(f"lnn::{e.name}" for e in exports)})
""")


def run_and_compare(runner: Path, exports: list[Export], work: Path) -> None:
    """Run the consumer on two sequences per model; every step's outputs and state equal the emulator's."""
    arguments, expected = [], []
    for exported in exports:
        emulator = Emulator(exported.qmodel)
        sequences = short_sequences(exported, batch=2, steps=25)
        x_raw, dt_raw = raw_inputs(emulator, sequences)
        ctype = C_TYPES[exported.manifest["value_type"]]
        steps = np.concatenate([x_raw, dt_raw[..., None]], axis=2).astype(ctype)  # per step: x, then dt
        inputs, outputs = work / f"{exported.name}.in", work / f"{exported.name}.out"
        inputs.write_bytes(np.array(x_raw.shape[:2], dtype=np.int32).tobytes() + steps.tobytes())
        arguments += [inputs, outputs]
        expected.append(emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), exported.qmodel.is_fixed))
    result = subprocess.run([str(runner), *map(str, arguments)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    for exported, (y_e, state_e), output in zip(exports, expected, arguments[1::2], strict=True):
        got = np.fromfile(output, dtype=C_TYPES[exported.manifest["value_type"]]).reshape(*y_e.shape[:2], -1)
        y_c, state_c = got[..., : y_e.shape[2]], got[..., y_e.shape[2] :]
        mismatch = first_mismatch(y_e, y_c, "output") or first_mismatch(state_e, state_c, "state")
        assert mismatch is None, f"{exported.name}: {mismatch}"


def test_two_models_through_add_subdirectory_are_bit_exact(exports: list[Export], tmp_path: Path) -> None:
    write_consumer(tmp_path / "consumer", exports, "add_subdirectory")
    cmake("-S", tmp_path / "consumer", "-B", tmp_path / "build", "-DCMAKE_BUILD_TYPE=Release")
    log = cmake("--build", tmp_path / "build", "--verbose")
    # The float32 model's usage requirement reaches its own compile and the consumer's; the fixed16 one adds none.
    (cfc_compile,) = [line for line in log.splitlines() if line.rstrip().endswith("cfc.c") and " -c " in line]
    (ltc_compile,) = [line for line in log.splitlines() if line.rstrip().endswith("ltc.c") and " -c " in line]
    assert "-ffp-contract=off" in cfc_compile and "-fno-fast-math" in cfc_compile
    assert "-ffp-contract" not in ltc_compile
    (runner_compile,) = [line for line in log.splitlines() if line.rstrip().endswith("runner.c") and " -c " in line]
    assert "-ffp-contract=off" in runner_compile
    run_and_compare(tmp_path / "build" / "runner", exports, tmp_path)


def test_two_installed_packages_through_find_package_are_bit_exact(exports: list[Export], tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    for exported in exports:  # each export is its own top-level project: install rules on by default
        build = tmp_path / f"build-{exported.name}"
        cmake("-S", exported.directory, "-B", build, "-DCMAKE_BUILD_TYPE=Release")
        cmake("--build", build)
        cmake("--install", build, "--prefix", prefix)
    for exported in exports:  # one folder of headers per package: two packages never share an installed file
        assert (prefix / "include" / f"lnn_{exported.name}" / f"{exported.name}.h").is_file()
        assert (prefix / "include" / f"lnn_{exported.name}" / "lnn" / "lnn_status.h").is_file()
    assert not (prefix / "include" / "lnn").exists()
    write_consumer(tmp_path / "consumer", exports, "find_package")
    cmake("-S", tmp_path / "consumer", "-B", tmp_path / "build", f"-DCMAKE_PREFIX_PATH={prefix}")
    cmake("--build", tmp_path / "build")
    run_and_compare(tmp_path / "build" / "runner", exports, tmp_path)


def test_an_export_with_another_runtime_is_refused_with_a_clear_error(exports: list[Export], tmp_path: Path) -> None:
    """Two exports from different lnn-edge versions (here: a copy whose runtime id differs) cannot share one
    lnn::runtime: the second add_subdirectory stops the configure and says why."""
    other = tmp_path / "other"
    shutil.copytree(exports[1].directory, other, ignore=shutil.ignore_patterns("fw"))
    cmakelists = other / "CMakeLists.txt"
    text = cmakelists.read_text()
    line = f'set(LNN_{exports[1].name.upper()}_RUNTIME_ID "'
    assert text.count(line) == 1
    cmakelists.write_text(text.replace(line, line + "0"))
    write_consumer(tmp_path / "consumer", [exports[0], exports[1]], "add_subdirectory")
    consumer = (tmp_path / "consumer" / "CMakeLists.txt").read_text()
    (tmp_path / "consumer" / "CMakeLists.txt").write_text(consumer.replace(str(exports[1].directory), str(other)))
    result = subprocess.run(["cmake", "-S", str(tmp_path / "consumer"), "-B", str(tmp_path / "build")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode != 0
    assert "different lnn-edge versions" in result.stderr
