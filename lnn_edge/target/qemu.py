"""Run a firmware image in QEMU with its UART on a local TCP socket: the emulated boards of tests and CI.

The listening socket is bound (port 0 unless one is asked for) and listening in this process and its file
descriptor is handed to QEMU (``-chardev socket,fd=N,server=on,wait=on``), so there is no race for ports
between parallel jobs and no byte is lost: the guest does not start until a client connects. The host
talks to it through pyserial's ``socket://127.0.0.1:PORT``.

Cycle counts are made deterministic with ``-icount shift=S`` (S from the board file; 1 instruction = 2^S ns
of virtual time), so SysTick ticks are proportional to executed instructions. Semihosting is on, so the
firmware's fault handler ends QEMU with a status instead of hanging.

:func:`running` is a context manager that always stops QEMU, whatever happens in its block.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lnn_edge.errors import LnnEdgeError
from lnn_edge.target.boards import Board
from lnn_edge.target.toolchain import ARCHES, require_tool

# A hard limit on the life of an emulator started by :func:`running`: nothing in tests runs this long, and
# a forgotten QEMU must not outlive its job.
DEFAULT_LIFETIME = 900.0


class QemuError(LnnEdgeError):
    """QEMU is missing, refused the machine, or died."""


def qemu_binary(board: Board) -> str:
    """The QEMU system emulator of the board's instruction-set family (qemu-system-arm, -riscv32)."""
    return require_tool(ARCHES[board.arch].qemu)


def machine_for(board: Board) -> str:
    """The QEMU machine that runs ``board``'s image: the board's own, or a real board's twin."""
    machine = board.qemu_target
    if machine is None:
        raise QemuError(f"board {board.name} is not emulated and has no QEMU twin: flash it and use --port")
    return machine


def qemu_command(
    board: Board, elf: Path, chardev: str, qmp_socket: Path | None = None, icount_shift: int | None = None
) -> list[str]:
    """The QEMU command line for ``elf`` on ``board`` with its UART on ``chardev`` (a -chardev spec
    whose id is ``lnn0``)."""
    serials: list[str] = []
    for index in range(board.qemu_serial + 1):
        serials += ["-serial", "chardev:lnn0" if index == board.qemu_serial else "null"]
    command = [
        qemu_binary(board), "-M", machine_for(board), "-nographic", "-monitor", "none",
        "-kernel", str(elf), "-chardev", chardev, *serials,
        "-icount", f"shift={board.icount_shift if icount_shift is None else icount_shift}",
        "-semihosting-config", "enable=on,target=native",
    ]  # fmt: skip
    if qmp_socket is not None:
        command += ["-qmp", f"unix:{qmp_socket},server=on,wait=off"]
    return command


def listen_socket(port: int = 0) -> socket.socket:
    """A TCP socket listening on 127.0.0.1 (port 0: the kernel picks a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise QemuError(f"cannot listen on 127.0.0.1:{port} ({error.strerror}): choose another --tcp-port") from None
    sock.listen(1)
    return sock


@dataclass
class QemuInstance:
    """A running QEMU: its process, the pyserial URL of the board's UART, and QMP for resets."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    command: list[str]
    log_path: Path
    qmp_socket: Path | None = None
    _qmp_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        """What QEMU printed on stderr (its errors), at most 2000 characters."""
        try:
            return self.log_path.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""

    def describe_exit(self) -> str:
        """One sentence for errors: is QEMU still running, and if not, why it stopped."""
        code = self.process.poll()
        if code is None:
            return f"QEMU (pid {self.pid}) is still running"
        text = self.log()
        return f"QEMU exited with status {code}" + (f": {text}" if text else "")

    def qmp(self, command: str, timeout: float = 10.0) -> dict[str, object]:
        """Execute one QMP command (the QEMU machine protocol) and return its reply."""
        if self.qmp_socket is None:
            raise QemuError("this QEMU was started without QMP (running(..., qmp=True))")
        with self._qmp_lock, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    sock.connect(str(self.qmp_socket))
                    break
                except OSError:
                    if time.monotonic() > deadline or not self.alive():
                        raise QemuError(f"cannot reach QEMU's QMP socket: {self.describe_exit()}") from None
                    time.sleep(0.02)
            stream = sock.makefile("rwb")
            json.loads(stream.readline())  # the greeting
            for request in ({"execute": "qmp_capabilities"}, {"execute": command}):
                stream.write(json.dumps(request).encode() + b"\n")
                stream.flush()
                while True:
                    reply = json.loads(stream.readline())
                    if "return" in reply or "error" in reply:
                        break  # skip asynchronous events
                if "error" in reply:
                    raise QemuError(f"QMP {request['execute']} failed: {reply['error']}")
            return dict(reply)

    def system_reset(self) -> None:
        """Reset the emulated board, as its reset button would (the firmware restarts and sends BOOT)."""
        self.qmp("system_reset")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate QEMU (then kill it if it does not go)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def start(
    board: Board,
    elf: Path,
    tcp_port: int = 0,
    qmp: bool = False,
    workdir: Path | None = None,
    detach: bool = False,
) -> QemuInstance:
    """Start QEMU with ``elf`` on ``board`` (or its twin) and its UART on a listening TCP socket.

    ``detach`` puts QEMU in its own session (for ``lnn-edge flash --background``: it outlives this process and
    a Ctrl-C in the terminal). The caller owns the instance and must stop it; prefer :func:`running`.
    """
    if not Path(elf).is_file():
        raise QemuError(f"{elf}: no such firmware image (run lnn-edge build first)")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="lnn-edge-qemu-"))
    listener = listen_socket(tcp_port)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    qmp_socket = workdir / "qmp.sock" if qmp else None
    command = qemu_command(board, Path(elf), f"socket,id=lnn0,fd={fd},server=on,wait=on,nodelay=on", qmp_socket)
    log_path = workdir / "qemu.log"
    try:
        with open(log_path, "wb") as log, open(os.devnull, "rb") as devnull:
            process = subprocess.Popen(
                command, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, pass_fds=(fd,), start_new_session=detach
            )
    finally:
        listener.close()  # QEMU holds its own copy; closing ours lets a dead QEMU refuse connections
    return QemuInstance(process, f"socket://127.0.0.1:{port}", port, command, log_path, qmp_socket)


@contextlib.contextmanager
def running(
    board: Board, elf: Path, tcp_port: int = 0, qmp: bool = False, lifetime: float = DEFAULT_LIFETIME
) -> Iterator[QemuInstance]:
    """Start QEMU, yield the instance (``.url`` for pyserial), and always stop it afterwards.

    A watchdog kills QEMU after ``lifetime`` seconds even if the block hangs.
    """
    with tempfile.TemporaryDirectory(prefix="lnn-edge-qemu-") as tmp:
        instance = start(board, elf, tcp_port=tcp_port, qmp=qmp, workdir=Path(tmp))
        watchdog = threading.Timer(lifetime, _kill, args=(instance.process,))
        watchdog.daemon = True
        watchdog.start()
        try:
            yield instance
        finally:
            watchdog.cancel()
            instance.stop()


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
