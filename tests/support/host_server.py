"""The firmware's protocol server and model binding compiled for the host, for the protocol and fuzz tests.

The binary is the driver of firmware/host/lnn_fw_fuzz_main.c: it feeds recorded frames to the very server
code that runs on the boards, so testing it tests the firmware's parser and dispatch. Only tests use it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from lnn_edge.codegen.export import load_export, model_sources
from lnn_edge.host.harness import STRICT_FLAGS, write_sources
from lnn_edge.target.boards import load_board
from lnn_edge.target.build import INCLUDE_DIRS, PROTOCOL_SOURCES, BuildError, config_header, firmware_dir
from lnn_edge.target.toolchain import host_compiler

HOST_SERVER_SOURCES = [*PROTOCOL_SOURCES, "app/lnn_fw_model.c", "host/lnn_fw_fuzz_main.c"]
SANITIZE_FLAGS = ["-g", "-O1", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def build_host_server(
    export_dir: str | os.PathLike[str], output: str | os.PathLike[str], sanitize: bool = True
) -> Path:
    """Compile the firmware's protocol server and model binding for the host (with ASan/UBSan by default).

    The result, ``output``, is the driver of firmware/host/lnn_fw_fuzz_main.c: it feeds recorded frames to the
    very server code that runs on the boards, so fuzzing it tests the firmware's parser and dispatch.
    """
    export = load_export(export_dir)
    compiler = host_compiler()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fw = firmware_dir()
    board = load_board("qemu-mps2-an386")  # only its names reach the config; the host driver has its own board info
    (output.parent / "lnn_fw_config.h").write_text(config_header(export, board))
    private = Path(tempfile.mkdtemp(prefix="model-src.", dir=output.parent))
    model_src = write_sources(model_sources(export), private / "src")
    flags = [*STRICT_FLAGS, *(SANITIZE_FLAGS if sanitize else ["-O2"]), "-ffp-contract=off", "-fno-fast-math"]
    command = [
        compiler, *flags, f"-I{output.parent}", *(f"-I{fw / folder}" for folder in INCLUDE_DIRS),
        f"-iquote{model_src}", *(str(fw / source) for source in HOST_SERVER_SOURCES),
        str(model_src / f"{export.name}.c"), "-o", str(output),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or result.stderr.strip():
        raise BuildError(f"compiling the protocol server for the host failed: {result.stderr.strip()}")
    return output
