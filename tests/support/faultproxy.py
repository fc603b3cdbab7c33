"""A fault-injecting TCP proxy for the serial link: drops, flips, duplicates, delays and inserts bytes.

It sits between the host and QEMU's UART socket (host -> proxy -> QEMU) and damages the byte stream in
either direction with seeded, per-byte probabilities, so robustness tests are reproducible: the same
stream and seed give the same faults. Every kind of fault is bounded (``max_faults`` per direction, a cap on
the total delay), so a test always ends. Only 127.0.0.1 is used.

    with FaultProxy(qemu_port, to_device=FaultRates(flip=0.002), seed=1) as proxy:
        verify_on_port(export, sequences, proxy.url)
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FaultRates:
    """Per-byte probabilities of each fault (``delay`` is per received chunk)."""

    drop: float = 0.0  # the byte is lost
    flip: float = 0.0  # one random bit of the byte is inverted
    duplicate: float = 0.0  # the byte is sent twice
    garbage: float = 0.0  # 1..16 random bytes are inserted before the byte
    delay: float = 0.0  # the chunk is held back for up to max_delay seconds
    max_delay: float = 0.02


@dataclass
class FaultCounts:
    """Faults injected in one direction."""

    bytes: int = 0
    dropped: int = 0
    flipped: int = 0
    duplicated: int = 0
    garbage_bytes: int = 0
    delays: int = 0

    @property
    def total(self) -> int:
        return self.dropped + self.flipped + self.duplicated + self.garbage_bytes + self.delays


@dataclass
class _Direction:
    rates: FaultRates
    rng: random.Random
    counts: FaultCounts = field(default_factory=FaultCounts)
    faults_left: int = 0
    delay_left: float = 0.0

    def damage(self, data: bytes) -> tuple[bytes, float]:
        """The bytes to forward and how long to wait first."""
        rates, rng, counts = self.rates, self.rng, self.counts
        out = bytearray()
        for byte in data:
            counts.bytes += 1
            if self.faults_left <= 0:
                out.append(byte)
                continue
            if rng.random() < rates.garbage:
                burst = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
                out += burst
                counts.garbage_bytes += len(burst)
                self.faults_left -= 1
            if rng.random() < rates.drop:
                counts.dropped += 1
                self.faults_left -= 1
                continue
            if rng.random() < rates.flip:
                byte ^= 1 << rng.randrange(8)
                counts.flipped += 1
                self.faults_left -= 1
            out.append(byte)
            if rng.random() < rates.duplicate:
                out.append(byte)
                counts.duplicated += 1
                self.faults_left -= 1
        wait = 0.0
        if self.faults_left > 0 and self.delay_left > 0 and rng.random() < rates.delay:
            wait = min(rng.uniform(0, rates.max_delay), self.delay_left)
            self.delay_left -= wait
            counts.delays += 1
            self.faults_left -= 1
        return bytes(out), wait


class FaultProxy:
    """A one-connection TCP proxy on 127.0.0.1 to ``upstream_port`` that injects faults (see module doc)."""

    def __init__(
        self,
        upstream_port: int,
        to_device: FaultRates | None = None,
        to_host: FaultRates | None = None,
        seed: int = 0,
        max_faults: int = 10_000,
        max_total_delay: float = 10.0,
        upstream_host: str = "127.0.0.1",
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.directions = {
            "to_device": _Direction(to_device or FaultRates(), random.Random(seed * 2 + 1), faults_left=max_faults,
                                    delay_left=max_total_delay),
            "to_host": _Direction(to_host or FaultRates(), random.Random(seed * 2 + 2), faults_left=max_faults,
                                  delay_left=max_total_delay),
        }  # fmt: skip
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def counts(self, direction: str) -> FaultCounts:
        return self.directions[direction].counts

    def start(self) -> FaultProxy:
        self._accepter.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5.0)
            except OSError:
                client.close()
                return
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(0.1)
                self._sockets.append(sock)
            for source, sink, name in ((client, upstream, "to_device"), (upstream, client, "to_host")):
                thread = threading.Thread(target=self._pump, args=(source, sink, self.directions[name]), daemon=True)
                thread.start()
                self._threads.append(thread)
            return  # one connection, like a serial line

    def _pump(self, source: socket.socket, sink: socket.socket, direction: _Direction) -> None:
        while not self._stop.is_set():
            try:
                data = source.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            out, wait = direction.damage(data)
            if wait:
                time.sleep(wait)
            try:
                sink.sendall(out)
            except OSError:
                break
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in [self._accepter, *self._threads]:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=2.0)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
