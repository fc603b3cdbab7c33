"""`lnn-edge verify --board/--port` and `lnn-edge flash` for emulated boards, through the command line.

The host verification (`lnn-edge verify DIR`) keeps working as before; with --board (an emulated board) the
firmware is built, run in QEMU and verified over its socket; with --port it talks to a board that is already
running (here one started by `lnn-edge flash --background`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_firmware_helpers import shared_export

from lnn_edge.cli import cli

HOST_FIELDS = ("passed", "bit_exact", "max_abs_err", "steps")
BOARD_FIELDS = ("board", "core", "cycles_per_step", "cycles_kind")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.mark.qemu
def test_verify_on_emulated_board_json(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    code, output = run("verify", str(exported.directory), "--board", "qemu-mps2-an386", "--steps", "20", "--json")
    assert code == 0, output
    data = json.loads(output)
    for key in HOST_FIELDS + BOARD_FIELDS:
        assert key in data
    assert data["passed"] and data["bit_exact"] and data["host_bit_exact"]
    assert data["board"] == "qemu-mps2-an386" and data["core"] == "cortex-m4f"
    assert data["cycles_kind"] == "systick-icount" and data["cycles_per_step"] > 1000
    assert data["steps"] == 20 and data["instructions_per_step"] > 1000


@pytest.mark.qemu
def test_verify_on_emulated_board_text(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    exported = shared_export(tmp_path_factory, "float32")
    plot = tmp_path / "board.png"
    code, output = run("verify", str(exported.directory), "--board", "qemu-mps2-an500", "--steps", "10",
                       "--plot", str(plot))  # fmt: skip
    assert code == 0, output
    assert "board == host C == emulator  bit-exact" in output
    assert "qemu-mps2-an500 (cortex-m7" in output
    assert output.strip().endswith("PASS")
    assert plot.is_file() and plot.stat().st_size > 1000


def test_board_verdict_takes_strict_and_the_task_metric(tmp_path_factory: pytest.TempPathFactory,
                                                        tmp_path: Path) -> None:  # fmt: skip
    """--strict and --max-metric-loss judge a board run as they judge the host's: inputs far beyond their formats
    are clamped (bit-exact on the board all the same), reported, and fail only with --strict; the task metric is
    the host C's, which the board matched bit for bit."""
    import numpy as np

    from lnn_edge.reference import Reference

    exported = shared_export(tmp_path_factory, "fixed16")
    x = np.random.default_rng(9).normal(size=(2, 12, 20))
    x[0, 3, 5] = 1e6  # far beyond any calibrated format
    model = exported.qmodel.model
    targets = Reference(model).run(x, np.full(x.shape[:2], model.dt))[0]
    data = tmp_path / "clamped.npz"
    np.savez(data, x=x, y=targets)
    flags = ("verify", str(exported.directory), "--board", "qemu-mps2-an386", "--data", str(data), "--json")
    code, output = run(*flags, "--max-metric-loss", "1")
    report = json.loads(output)
    assert code == 0 and report["passed"] and report["bit_exact"], output
    assert report["input_saturations"] == {model.input_names[5]: 1}
    assert report["task"]["kind"] == "regression" and report["max_metric_loss"] == 1.0
    code, output = run(*flags, "--strict")
    report = json.loads(output)
    assert code == 1 and report["bit_exact"] and not report["passed"], output
    assert report["failures"] == [f"host C: inputs clamped with --strict ({model.input_names[5]} 1)"]


def test_host_verify_unchanged(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    code, output = run("verify", str(exported.directory), "--steps", "20", "--json")
    assert code == 0
    data = json.loads(output)
    assert data["passed"] and "board" not in data


def test_verify_real_board_needs_a_port(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    code, output = run("verify", str(exported.directory), "--board", "nucleo-f401re")
    assert code == 1
    assert "nucleo-f401re is real hardware: flash it" in output and "--port" in output
    assert "Traceback" not in output


def test_verify_port_that_cannot_be_opened(tmp_path_factory: pytest.TempPathFactory) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    code, output = run("verify", str(exported.directory), "--port", "socket://127.0.0.1:1", "--steps", "2")
    assert code == 1
    assert output.startswith("error: cannot open socket://127.0.0.1:1")


def _wait_for(path: Path, seconds: float = 30.0) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)
    return path.read_text().strip()


@pytest.mark.qemu
def test_flash_background_then_verify_over_the_port(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    other = shared_export(tmp_path_factory, "float32")
    port_file = tmp_path / "port.txt"
    code, output = run("flash", str(exported.directory), "--board", "qemu-mps2-an505", "--background",
                       "--port-file", str(port_file), "--json")  # fmt: skip
    assert code == 0, output
    started = json.loads(output)
    try:
        url = port_file.read_text().strip()
        assert url == started["url"] and url.startswith("socket://127.0.0.1:")
        # The wrong export first: refused before anything is verified, naming both hashes.
        code, output = run("verify", str(other.directory), "--port", url, "--steps", "3")
        assert code == 1
        assert f"runs model {exported.manifest['model_hash'][:16]}" in output
        assert f"the export {other.directory} is {other.manifest['model_hash'][:16]}" in output
        # The pyserial link was closed; QEMU's server accepts the next connection.
        code, output = run("verify", str(exported.directory), "--port", url, "--board", "qemu-mps2-an505",
                           "--steps", "15", "--json")  # fmt: skip
        assert code == 0, output
        data = json.loads(output)
        assert data["bit_exact"] and data["board"] == "qemu-mps2-an505" and data["core"] == "cortex-m33"
    finally:
        os.kill(started["pid"], signal.SIGTERM)


@pytest.mark.qemu
def test_flash_foreground_stops_on_ctrl_c(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    exported = shared_export(tmp_path_factory, "fixed16")
    port_file = tmp_path / "port.txt"
    process = subprocess.Popen(
        [sys.executable, "-c", "from lnn_edge.cli import main; main()", "flash", str(exported.directory), "--board", "qemu-microbit",
         "--port-file", str(port_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = _wait_for(port_file)
        code, output = run("verify", str(exported.directory), "--port", url, "--steps", "5", "--json")
        assert code == 0, output
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"its UART: {url}" in out
    assert not port_file.exists()  # removed when QEMU stopped


@pytest.mark.qemu
def test_qemu_is_stopped_even_when_the_block_fails(tmp_path_factory: pytest.TempPathFactory) -> None:
    from lnn_edge.target.boards import load_board
    from lnn_edge.target.build import build_firmware
    from lnn_edge.target.qemu import running

    exported = shared_export(tmp_path_factory, "fixed16")
    board = load_board("qemu-mps2-an385")
    built = build_firmware(exported.directory, board)
    with pytest.raises(RuntimeError, match="boom"), running(board, built.elf) as instance:
        assert instance.alive()
        raise RuntimeError("boom")
    assert instance.process.poll() is not None


def _processes_running(image: Path) -> list[int]:
    """PIDs of the processes whose command line names ``image`` (a QEMU running that firmware)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(image).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile
                continue
    return found


@pytest.mark.qemu
@pytest.mark.parametrize("place", ["a user's file", "inside a file"])
def test_flash_background_refuses_a_bad_port_file_before_qemu_starts(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, place: str
) -> None:
    """A port file it may not write is refused before QEMU starts: a QEMU left running after the refusal would
    have no PID printed and nobody to stop it."""
    exported = shared_export(tmp_path_factory, "fixed16")
    mine = tmp_path / "notes.txt"
    mine.write_text("mine\n")
    port_file = mine if place == "a user's file" else mine / "port.txt"
    image = exported.directory / "fw" / "qemu-mps2-an386" / "firmware.elf"
    code, output = run("flash", str(exported.directory), "--board", "qemu-mps2-an386", "--background",
                       "--port-file", str(port_file))  # fmt: skip
    leaked = _processes_running(image)
    for pid in leaked:  # the bug this test guards against: stop it rather than leave it behind
        os.kill(pid, signal.SIGTERM)
    assert code == 1 and "Traceback" not in output
    assert "is not a port file that lnn-edge wrote" in output or "is a file, not a folder" in output
    assert leaked == [] and mine.read_text() == "mine\n"
