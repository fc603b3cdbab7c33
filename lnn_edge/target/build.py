"""``lnn-edge build``: cross-compile an export's C with the firmware for one board, and report its size.

The result goes to ``DIR/fw/<board>/`` (firmware.elf, .bin, .hex, the map, the generated config header and
linker script, size.json, build.json). It is built in a temporary folder and moved into place, so a failed
build never leaves a folder that looks finished. A hash of everything that goes into the image (sources,
board file, flags, compiler version) is kept in build.json: rebuilding unchanged inputs reuses the result.

Optimisation is -O2 (speed: a model step is the hot loop; -Os saves little since the parameters dominate
flash) with -ffp-contract=off, the same numeric flags as the host harness, so float32 results are
bit-identical to the host's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import string
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lnn_edge import __version__
from lnn_edge.atomic import OutputError, atomic_file, check_dir_target, owned_dir
from lnn_edge.codegen.export import FIRMWARE_DIR, Export, load_export, model_sources
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.harness import NUMERIC_FLAGS, STRICT_FLAGS, write_sources
from lnn_edge.resources import data_dir
from lnn_edge.target.boards import UART_DRIVERS, Board, Region, load_board
from lnn_edge.target.elf import berkeley_sizes, sections
from lnn_edge.target.protocol import PAYLOAD_LIMIT, device_max_payload
from lnn_edge.target.toolchain import CORE_FLAGS, CORES, require_tool

FIRMWARE_FLAGS = [
    *STRICT_FLAGS,
    *NUMERIC_FLAGS,
    "-g",
    "-ffreestanding",
    "-fno-common",
    "-ffunction-sections",
    "-fdata-sections",
    # Keeps memcpy/memset loops (and the .data/.bss loops) from being turned into calls to memcpy/memset.
    "-fno-tree-loop-distribute-patterns",
]
LINK_FLAGS = ["-nostdlib", "-nostartfiles", "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments"]
# Stack the firmware itself needs on top of the model's step scratch (frames are static, not on the stack),
# including the binding's copies of a step's values up to COPIES_IN_FIRMWARE_STACK bytes (see stack_size).
FIRMWARE_STACK = 1024
COPIES_IN_FIRMWARE_STACK = 512
BUILD_FILE = "build.json"
"""The manifest of a firmware build folder: its key, flags and the files it wrote (see lnn_edge.atomic)."""
BUILD_FORMAT = "lnn-edge-build"
LEGACY_BUILD_FILES = (BUILD_FILE, "size.json", "lnn_fw_config.h", "lnn_fw.ld", "firmware.elf", "firmware.bin",
                      "firmware.hex", "firmware.map")  # fmt: skip
PROTOCOL_SOURCES = ["protocol/lnn_fw_cobs.c", "protocol/lnn_fw_crc16.c", "protocol/lnn_fw_frame.c",
                    "protocol/lnn_fw_server.c"]  # fmt: skip
APP_SOURCES = ["app/lnn_fw_main.c", "app/lnn_fw_model.c", "app/lnn_fw_port.c"]
# The HAL files every board of a family links (start-up, set-up writes, memory functions), and its linker script.
HAL_SOURCES: dict[str, list[str]] = {
    "arm": ["hal/lnn_fw_reset.S", "hal/lnn_fw_startup.c", "hal/lnn_fw_board_setup.c", "hal/lnn_fw_libc.c",
            "hal/lnn_fw_systick.c"],
    "riscv": ["hal/lnn_fw_riscv_reset.S", "hal/lnn_fw_riscv_startup.c", "hal/lnn_fw_board_setup.c",
              "hal/lnn_fw_libc.c"],
}  # fmt: skip
LINKER_TEMPLATES = {"arm": "lnn_fw.ld.in", "riscv": "lnn_fw_riscv.ld.in"}
# A board's cycle counter -> its source, and the kind byte HELLO reports (firmware/protocol/lnn_fw_protocol.h).
CYCLE_SOURCES = {"dwt": "hal/lnn_fw_cycles_dwt.c", "systick": "hal/lnn_fw_cycles_systick.c",
                 "mcycle": "hal/lnn_fw_cycles_mcycle.c"}  # fmt: skip
CYCLE_KIND_CODES = {"dwt": 1, "systick": 2, "mcycle": 3}
INCLUDE_DIRS = ["protocol", "app", "hal"]
VALUE_SIZES = {"int16_t": 2, "int32_t": 4, "float": 4}


class BuildError(LnnEdgeError):
    """The firmware does not compile, link or fit the board."""


@dataclass
class SizeReport:
    """Flash and RAM use of a firmware image, split into the model's share and the rest."""

    text: int
    data: int
    bss: int
    stack: int
    flash_used: int
    ram_used: int
    flash_size: int
    ram_size: int
    model_flash: int
    model_ram: int

    def as_dict(self) -> dict[str, int]:
        return {
            "text": self.text, "data": self.data, "bss": self.bss, "stack": self.stack,
            "flash_used": self.flash_used, "flash_size": self.flash_size,
            "ram_used": self.ram_used, "ram_size": self.ram_size,
            "model_flash": self.model_flash, "model_ram": self.model_ram,
            "firmware_flash": self.flash_used - self.model_flash,
            "firmware_ram": self.ram_used - self.model_ram - self.stack,
        }  # fmt: skip

    def format(self) -> str:
        firmware_ram = self.ram_used - self.model_ram - self.stack
        flash_share = 100 * self.flash_used / self.flash_size
        ram_share = 100 * self.ram_used / self.ram_size
        return "\n".join(
            [
                f"  flash {_kib(self.flash_used):>9} of {_kib(self.flash_size)} ({flash_share:.1f}%): "
                f"model {_kib(self.model_flash)}, firmware {_kib(self.flash_used - self.model_flash)}",
                f"  RAM   {_kib(self.ram_used):>9} of {_kib(self.ram_size)} ({ram_share:.1f}%): "
                f"model {_kib(self.model_ram)}, firmware {_kib(firmware_ram)}, stack {_kib(self.stack)}",
                f"  (text {self.text} B, data {self.data} B, bss {self.bss} B including the stack)",
            ]
        )


def _kib(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KiB" if size < 1 << 20 else f"{size / (1 << 20):.1f} MiB"


@dataclass
class BuildResult:
    """A built (or reused) firmware image for one board."""

    board: Board
    export: Export
    directory: Path
    size: SizeReport
    cached: bool

    @property
    def elf(self) -> Path:
        return self.directory / "firmware.elf"

    @property
    def bin(self) -> Path:
        return self.directory / "firmware.bin"

    @property
    def hex(self) -> Path:
        return self.directory / "firmware.hex"

    def as_dict(self) -> dict[str, Any]:
        return {
            "board": self.board.name,
            "core": self.board.core,
            "model": self.export.name,
            "precision": self.export.manifest["precision"],
            "model_hash": self.export.manifest["model_hash"],
            "directory": str(self.directory),
            "elf": str(self.elf),
            "bin": str(self.bin),
            "hex": str(self.hex),
            "cached": self.cached,
            "max_payload": max_payload(self.export),
            "size": self.size.as_dict(),
        }


def firmware_dir() -> Path:
    return data_dir() / "firmware"


def firmware_sources(board: Board) -> list[str]:
    """The firmware files (relative to firmware/) one board's image is built from."""
    return [*PROTOCOL_SOURCES, *APP_SOURCES, *HAL_SOURCES[board.arch], CYCLE_SOURCES[board.cycles],
            UART_DRIVERS[board.uart.driver]]  # fmt: skip


def max_payload(export: Export) -> int:
    """The serial protocol's largest payload for this model's firmware (its frame buffers are sized from it)."""
    manifest = export.manifest
    size = VALUE_SIZES[manifest["value_type"]]
    payload = device_max_payload(size, manifest["inputs"], manifest["outputs"], manifest["state_size"])
    if payload > PAYLOAD_LIMIT:  # unreachable within the model file's limits (1024 inputs, 1024 neurons)
        raise BuildError(f"{export.directory}: a frame of this model needs {payload} payload bytes, above the serial "
                         f"protocol's limit of {PAYLOAD_LIMIT} (its u16 length field)")  # fmt: skip
    return payload


def config_header(export: Export, board: Board) -> str:
    """lnn_fw_config.h: what the firmware sources need to know about this board and this model."""
    name = export.name
    upper = name.upper()
    uart = board.uart
    lines = [
        f"/* lnn_fw_config.h: generated by lnn-edge {__version__} build for board {board.name} and model {name}.",
        " * Do not edit: rebuild with lnn-edge build. */",
        "#ifndef LNN_FW_CONFIG_H",
        "#define LNN_FW_CONFIG_H",
        "",
        f'#define LNN_FW_BOARD_NAME "{board.name}"',
        f'#define LNN_FW_CORE_NAME "{board.core}"',
        f"#define LNN_FW_CLOCK_HZ {board.clock_hz}u",
        f"#define LNN_FW_CYCLES_KIND {CYCLE_KIND_CODES[board.cycles]}u",
        f"#define LNN_FW_SEMIHOSTING {1 if board.emulated else 0}",
        f"#define LNN_FW_UART_BASE {uart.base:#010x}u",
        f"#define LNN_FW_UART_BAUD {uart.baud}u",
        f"#define LNN_FW_UART_CLOCK_HZ {uart.clock_hz}u",
    ]
    if uart.tx_pin is not None and uart.rx_pin is not None:
        lines += [f"#define LNN_FW_UART_TX_PIN {uart.tx_pin}u", f"#define LNN_FW_UART_RX_PIN {uart.rx_pin}u"]
    if uart.baud_register is not None:
        lines.append(f"#define LNN_FW_UART_BAUD_REG {uart.baud_register:#010x}u")
    lines.append(f"#define LNN_FW_SETUP_COUNT {len(board.setup)}")
    if board.setup:
        entries = ", ".join(f"{{{w.addr:#010x}u, {w.clear:#010x}u, {w.set:#010x}u}}" for w in board.setup)
        lines.append(f"#define LNN_FW_SETUP_WRITES {{{entries}}}")
    lines += [
        "",
        f'#define LNN_FW_MODEL_HEADER "{name}.h"',
        f"#define LNN_FW_MODEL_VALUE_T {name}_value_t",
        f"#define LNN_FW_MODEL_TIME_T {name}_time_t",
        f"#define LNN_FW_MODEL_STATE_T {name}_state_t",
        f"#define LNN_FW_MODEL_INPUTS {upper}_INPUTS",
        f"#define LNN_FW_MODEL_OUTPUTS {upper}_OUTPUTS",
        f"#define LNN_FW_MODEL_STATE_SIZE {upper}_STATE_SIZE",
        f"#define LNN_FW_MODEL_HASH {upper}_MODEL_HASH",
        f"#define LNN_FW_MODEL_PRECISION {upper}_PRECISION",
        f"#define LNN_FW_MODEL_INIT {name}_init",
        f"#define LNN_FW_MODEL_RESET {name}_reset",
        f"#define LNN_FW_MODEL_STEP_DT {name}_step_dt",
        f"#define LNN_FW_MODEL_GET_STATE {name}_get_state",
        f"#define LNN_FW_MODEL_SET_STATE {name}_set_state",
        "",
        "/* The serial protocol's largest payload for this model: the frame buffers' size (lnn_fw_protocol.h). */",
        f"#define LNN_FW_MAX_PAYLOAD {max_payload(export)}u",
        "",
        "#endif /* LNN_FW_CONFIG_H */",
        "",
    ]
    return "\n".join(lines)


def stack_size(export: Export, board: Board) -> int:
    """The board's minimum, or the model's step scratch plus the firmware's own needs, rounded up.

    The firmware's needs include the binding's typed copies of a step's inputs and outputs (or of a new state),
    which app/lnn_fw_model.c keeps on the stack. FIRMWARE_STACK covers copies up to COPIES_IN_FIRMWARE_STACK bytes
    (the stack of the tests' and benchmarks' models, 20 inputs, is unchanged by them); larger ones, a kilobyte
    for 256 float inputs, are added. Measured with -fstack-usage on a Cortex-M4F: lnn_fw_server_feed (the whole
    dispatch, inlined) 104 B, lnn_fw_model_step 72 B for 22 fixed16 copies and 1,072 B for 261 float copies."""
    manifest = export.manifest
    model_stack = int(manifest.get("memory", {}).get("stack", 512))
    copies = VALUE_SIZES[manifest["value_type"]] * max(1 + manifest["inputs"] + manifest["outputs"],
                                                        manifest["state_size"])  # fmt: skip
    need = max(board.stack_size, model_stack + FIRMWARE_STACK + max(0, copies - COPIES_IN_FIRMWARE_STACK))
    return -(-need // 256) * 256


def linker_script(
    board: Board, stack: int, flash: tuple[int, int] | None = None, ram: tuple[int, int] | None = None
) -> str:
    """The linker script for the board's memory map (``flash``/``ram`` override it to measure an overflow)."""
    template = string.Template((firmware_dir() / "linker" / LINKER_TEMPLATES[board.arch]).read_text())
    flash_origin, flash_size = flash or (board.flash.origin, board.flash.size)
    ram_origin, ram_size = ram or (board.ram.origin, board.ram.size)
    return template.substitute(
        flash_origin=f"{flash_origin:#010x}", flash_size=f"{flash_size:#x}",
        ram_origin=f"{ram_origin:#010x}", ram_size=f"{ram_size:#x}", stack_size=f"{stack:#x}",
    )  # fmt: skip


def _compiler_version(compiler: str) -> str:
    result = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.stdout else ""


def _cache_key(export: Export, board: Board, config: str, script: str, sources: list[Path], compiler: str) -> str:
    digest = hashlib.sha256()
    for part in (
        __version__,
        _compiler_version(compiler),
        " ".join(FIRMWARE_FLAGS + LINK_FLAGS),
        " ".join(CORE_FLAGS[board.core] + list(board.cflags)),
        board.path.read_text(),
        config,
        script,
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for filename in sorted(export.manifest["files"]):  # the export's own files, by their manifest hashes
        digest.update(f"{filename}={export.manifest['files'][filename]}".encode())
    return digest.hexdigest()


def model_objects(export: Export) -> tuple[str, ...]:
    """Object files whose sections count as the model's share: the generated code and parameters, and
    the binding that holds the model's state (lnn_fw_model.o)."""
    return (f"{export.name}.o", "lnn_fw_model.o")


def output_dir(export_dir: str | os.PathLike[str], board: Board) -> Path:
    return Path(export_dir) / FIRMWARE_DIR / board.name


def build_firmware(export_dir: str | os.PathLike[str], board: Board | str, force: bool = False) -> BuildResult:
    """Build (or reuse) the firmware for the export in ``export_dir`` and ``board``."""
    export = load_export(export_dir)
    if not isinstance(board, Board):
        board = load_board(board)
    if export.name.startswith("lnn_fw"):
        raise BuildError(f"{export.directory}: the model name {export.name!r} clashes with the firmware's lnn_fw_ "
                         "symbols: export it again with another --name")  # fmt: skip
    core = CORES[board.core]
    compiler = require_tool(core.tool("gcc"))
    objcopy = require_tool(core.tool("objcopy"))
    stack = stack_size(export, board)
    config = config_header(export, board)
    script = linker_script(board, stack)
    fw = firmware_dir()
    relative = firmware_sources(board)
    sources = [fw / path for path in relative]
    headers = sorted(path for folder in INCLUDE_DIRS for path in (fw / folder).glob("*.h"))
    target = output_dir(export.directory, board)
    key = _cache_key(export, board, config, script, sources + headers, compiler)
    if not force:
        reused = _reuse(target, key)
        if reused is not None:
            return BuildResult(board, export, target, reused, cached=True)
    cflags = [*CORE_FLAGS[board.core], *board.cflags]
    for folder in (target.parent, target):  # a link would send the build, and its replacements, elsewhere
        if folder.is_symlink():
            raise BuildError(f"{folder} is a link: lnn-edge builds firmware only in a real folder inside the export; "
                             "remove the link (what it points to is left alone)")  # fmt: skip
    _adopt_legacy_build(target)
    try:
        check_dir_target(target, BUILD_FILE, BUILD_FORMAT, "firmware build")  # owned_dir checks again
    except OutputError:
        if not target.is_dir():
            raise
        # The folder's name is fixed by the board, so "pick another folder" is no way out: moving the files is.
        raise OutputError(f"{target} holds files and no {BUILD_FILE} that lnn-edge wrote: lnn-edge builds for "
                          f"{board.name} in that folder only and will not overwrite them; move your files out of "
                          "it") from None  # fmt: skip
    with owned_dir(target, BUILD_FILE, BUILD_FORMAT, "firmware build") as tmp:
        (tmp / "lnn_fw_config.h").write_text(config)
        (tmp / "lnn_fw.ld").write_text(script)
        objects = tmp / "obj"
        (objects / "fw").mkdir(parents=True)
        (objects / "model").mkdir()
        # The model's C from a private copy of exactly the manifest's files, on the quote path only.
        model_src = write_sources(model_sources(export), objects / "src")
        includes = [f"-I{tmp}", *(f"-I{fw / folder}" for folder in INCLUDE_DIRS), f"-iquote{model_src}"]
        jobs = [(source, objects / "fw" / (source.stem + ".o")) for source in sources]
        model_object = objects / "model" / f"{export.name}.o"
        jobs.append((model_src / f"{export.name}.c", model_object))
        flags = [*cflags, *FIRMWARE_FLAGS, *includes]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            failures = [message for message in pool.map(lambda job: _compile(compiler, flags, *job), jobs) if message]
        if failures:
            raise BuildError(f"compiling the firmware for {board.name} failed:\n" + "\n".join(failures))
        elf = tmp / "firmware.elf"
        link = [compiler, *cflags, *LINK_FLAGS, f"-Wl,-Map={tmp / 'firmware.map'}", "-T", str(tmp / "lnn_fw.ld"),
                *(str(obj) for _, obj in jobs), "-lgcc", "-o", str(elf)]  # fmt: skip
        linked = subprocess.run(link, capture_output=True, text=True, check=False)
        if linked.returncode != 0:
            if "overflowed" in linked.stderr or "will not fit" in linked.stderr:
                raise _does_not_fit(export, board, stack, link, tmp)
            raise BuildError(f"linking the firmware for {board.name} failed: {linked.stderr.strip()}")
        for fmt, suffix in (("binary", "bin"), ("ihex", "hex")):
            subprocess.run([objcopy, "-O", fmt, str(elf), str(tmp / f"firmware.{suffix}")], check=True)
        report = size_report(elf, tmp / "firmware.map", model_objects(export), board, stack)
        shutil.rmtree(objects)
        (tmp / "size.json").write_text(json.dumps(report.as_dict(), indent=2, sort_keys=True))
        files = sorted(path.name for path in tmp.iterdir() if not path.name.startswith("."))
        (tmp / BUILD_FILE).write_text(json.dumps({
            "format": BUILD_FORMAT, "files": files, "key": key, "board": board.name, "model": export.name,
            "model_hash": export.manifest["model_hash"],
            "compile_flags": [*cflags, *FIRMWARE_FLAGS], "link_flags": LINK_FLAGS, "lnn_edge_version": __version__,
            "sources": [*relative, f"{export.name}.c"],
        }, indent=2, sort_keys=True))  # fmt: skip
    return BuildResult(board, export, target, report, cached=False)


def _adopt_legacy_build(target: Path) -> None:
    """Give a build folder written before build.json listed its files (lnn-edge 0.1) a list of them, so that
    the folder is recognised as lnn-edge's and rebuilt in place instead of refused."""
    try:
        info = json.loads((target / BUILD_FILE).read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return
    if not isinstance(info, dict) or "format" in info or not {"key", "board", "lnn_edge_version"} <= info.keys():
        return
    files = sorted(name for name in LEGACY_BUILD_FILES if (target / name).is_file())
    with atomic_file(target / BUILD_FILE) as tmp:
        tmp.write_text(json.dumps({**info, "format": BUILD_FORMAT, "files": files}, indent=2, sort_keys=True))


def _reuse(target: Path, key: str) -> SizeReport | None:
    try:
        info = json.loads((target / BUILD_FILE).read_text())
        size = json.loads((target / "size.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if info.get("key") != key or not all((target / f"firmware.{s}").is_file() for s in ("elf", "bin", "hex")):
        return None
    fields = {k: size[k] for k in SizeReport.__dataclass_fields__}
    return SizeReport(**fields)


def _compile(compiler: str, flags: list[str], source: Path, obj: Path) -> str:
    command = [compiler, *flags, "-c", str(source), "-o", str(obj)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or result.stderr.strip():
        return f"{source}: {result.stderr.strip()}"
    return ""


def _does_not_fit(export: Export, board: Board, stack: int, link: list[str], tmp: Path) -> BuildError:
    """Link once more into a huge memory map to measure, then say by how much the image misses."""
    measure = tmp / "measure"
    measure.mkdir()
    script = measure / "lnn_fw.ld"
    script.write_text(linker_script(board, stack, flash=(0x00000000, 0x10000000), ram=(0x20000000, 0x10000000)))
    elf = measure / "firmware.elf"
    command = [*link]
    command[command.index("-T") + 1] = str(script)
    command[command.index("-o") + 1] = str(elf)
    command = [c if not c.startswith("-Wl,-Map=") else f"-Wl,-Map={measure / 'firmware.map'}" for c in command]
    subprocess.run(command, capture_output=True, text=True, check=False)
    if not elf.is_file():
        return BuildError(f"the firmware for {board.name} does not fit the board's memory")
    big = dataclasses.replace(board, flash=Region(0, 0x10000000), ram=Region(0x20000000, 0x10000000))
    report = size_report(elf, measure / "firmware.map", model_objects(export), big, stack)
    problems = []
    if report.flash_used > board.flash.size:
        problems.append(f"{report.flash_used} B of flash, {report.flash_used - board.flash.size} B more than the "
                        f"board's {board.flash.size} B (the model's share is {report.model_flash} B)")  # fmt: skip
    if report.ram_used > board.ram.size:
        problems.append(f"{report.ram_used} B of RAM, {report.ram_used - board.ram.size} B more than the board's "
                        f"{board.ram.size} B (stack {stack} B, model state {report.model_ram} B)")  # fmt: skip
    needs = " and ".join(problems) or "more memory than the board has"
    return BuildError(f"the firmware for {export.name} ({export.manifest['precision']}) does not fit {board.name}: "
                      f"it needs {needs}. What would help: {'; '.join(fit_hints(export))}")  # fmt: skip


def fit_hints(export: Export) -> list[str]:
    """What would make a model fit, for this export: a narrower precision only where there is one, fewer backbone
    units only for a CfC that has a backbone, then a smaller wiring or a bigger part."""
    model = export.qmodel.model
    hints = []
    precision = export.manifest["precision"]
    if precision != "fixed16":
        hints.append(f"export with --precision fixed16 (parameters in 16 bits instead of {precision}'s 32)")
    if model.cfc is not None and model.cfc.backbone_layers:
        hints.append(f"fewer backbone units or layers (now {model.cfc.backbone_layers} x {model.cfc.backbone_units})")
    hints.append(f"a smaller wiring (now {model.state_size} neurons)")
    hints.append("a board with more memory (lnn-edge boards lists them)")
    return hints


def size_report(elf: Path, map_file: Path, model_objects: tuple[str, ...], board: Board, stack: int) -> SizeReport:
    """Flash/RAM use from the ELF's allocated sections, text/data/bss as binutils' size counts them (both
    read with pyelftools, lnn_edge.target.elf), and the model's share from the link map."""
    text, data, bss = berkeley_sizes(elf)
    flash_used = ram_used = 0
    for section in sections(elf):
        if not section.allocated:
            continue  # debug info and attributes are not loaded
        if board.flash.origin <= section.address < board.flash.origin + board.flash.size:
            flash_used += section.size
        elif board.ram.origin <= section.address < board.ram.origin + board.ram.size:
            ram_used += section.size
            if section.name == ".data":
                flash_used += section.size  # its initial values are stored in flash
    model_flash, model_ram = model_share(map_file, model_objects)
    return SizeReport(
        text, data, bss, stack, flash_used, ram_used, board.flash.size, board.ram.size, model_flash, model_ram
    )


_INPUT_SECTION = re.compile(r"^ (\.[^\s]+|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def model_share(map_file: Path, model_objects: tuple[str, ...]) -> tuple[int, int]:
    """Bytes of flash and RAM that input sections of the model's object files take in the link map."""
    lines = map_file.read_text().splitlines()
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        return 0, 0
    flash = ram = 0
    pending: str | None = None
    for line in lines[start:]:
        match = _INPUT_SECTION.match(line)
        if match:
            if match.group(2) is None:
                pending = match.group(1)  # long names put address, size and file on the next line
                continue
            section, size, where = match.group(1), int(match.group(3), 16), match.group(4)
        elif pending is not None and (cont := _CONTINUATION.match(line)):
            section, size, where = pending, int(cont.group(2), 16), cont.group(3)
        else:
            pending = None
            continue
        pending = None
        if Path(where.strip()).name not in model_objects or size == 0:
            continue
        if section.startswith((".text", ".rodata")):
            flash += size
        elif section.startswith(".data"):
            flash += size
            ram += size
        elif section.startswith((".bss", "COMMON")):
            ram += size
    return flash, ram


def describe(result: BuildResult) -> str:
    """The human-readable build report."""
    cached = " (unchanged: reused)" if result.cached else ""
    lines = [
        f"built {result.export.name} ({result.export.manifest['precision']}) for {result.board.name} "
        f"[{result.board.core}] in {result.directory}{cached}",
        f"  {result.elf.name}  {result.bin.name}  {result.hex.name}",
        result.size.format(),
    ]
    return "\n".join(lines)
