"""Coverage-guided fuzzing of the firmware's protocol server with libFuzzer (docs/fuzzing.md).

Builds firmware/host/lnn_fw_libfuzzer.c with the server's sources (those of ``host_server.build_host_server``, with the
libFuzzer entry point in place of the file driver) and one exported model, using clang with
``-fsanitize=fuzzer,address,undefined``; runs it; parses libFuzzer's final statistics; measures line and branch
coverage of the firmware sources over a corpus (llvm-cov); and writes the seed corpus of real frames
(tests/fuzz_corpus/, encoded with lnn_edge.target.protocol).

``make fuzz`` runs this file: ``python tests/support/libfuzzer.py --seconds 600 --out build/fuzz``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lnn_edge.codegen.export import Export, export, load_export, load_model_source
from lnn_edge.errors import MissingDependencyError
from lnn_edge.host.harness import NUMERIC_FLAGS, STRICT_FLAGS
from lnn_edge.target import protocol as P
from lnn_edge.target.boards import load_board
from lnn_edge.target.build import config_header, firmware_dir

try:
    from support.host_server import HOST_SERVER_SOURCES
except ModuleNotFoundError:  # run as a script (make fuzz): this folder, not tests/, is on sys.path
    from host_server import HOST_SERVER_SOURCES  # type: ignore[no-redef]

HARNESS = "host/lnn_fw_libfuzzer.c"
CORPUS_DIR = Path(__file__).resolve().parents[1] / "fuzz_corpus"
CLANG_PACKAGES = "clang libclang-rt-dev llvm"
# The model the corpus is written for: the fixed16 LTC of AutoNCP(19, 2) with 20 inputs (tests' shared export).
INPUTS, OUTPUTS, STATE, VALUE_SIZE = 20, 2, 19, 2
SANITIZE = ["-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"]
HARNESS_SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]  # checked, not coverage-guided
COVERAGE = ["-fsanitize=fuzzer", "-fprofile-instr-generate", "-fcoverage-mapping"]
FUZZ_OPTIONS = ["-print_final_stats=1", "-max_len=4096", "-timeout=10", "-use_value_profile=1"]
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:symbolize=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


def server_sources() -> list[str]:
    """The firmware files the fuzzer is built from: build_host_server's, with the libFuzzer entry point."""
    return [source for source in HOST_SERVER_SOURCES if not source.startswith("host/")] + [HARNESS]


def target_sources() -> list[str]:
    """The firmware files whose coverage is reported: the protocol and the model binding, not the harness."""
    return [source for source in server_sources() if source != HARNESS]


def llvm_tool(name: str) -> str:
    """The path of clang or an LLVM tool (plain or -14 suffixed), or a clear error saying what to install."""
    for candidate in (name, f"{name}-14"):
        path = shutil.which(candidate)
        if path is not None:
            return path
    raise MissingDependencyError(f"{name} is not installed: apt-get install --no-install-recommends {CLANG_PACKAGES}")


# --- building ---------------------------------------------------------------------------------------------
def build_fuzzer(exported: Export, out_dir: Path, firmware: Path | None = None, coverage: bool = False) -> Path:
    """Compile the libFuzzer binary into ``out_dir`` (with ASan/UBSan, or with coverage instrumentation).

    The harness is compiled without libFuzzer's instrumentation: its oracle (a bitwise CRC and COBS over every
    frame) would otherwise cost most of each execution in comparison callbacks, and only the firmware's
    coverage should guide the search. ``firmware`` is the firmware folder (default: the installed one); a test
    passes a patched copy to show that the harness finds a planted bug.
    """
    clang = llvm_tool("clang")
    firmware = firmware or firmware_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    board = load_board("qemu-mps2-an386")  # only its names reach the config; the harness has its own board info
    (out_dir / "lnn_fw_config.h").write_text(config_header(exported, board))
    binary = out_dir / ("lnn_fw_libfuzzer_cov" if coverage else "lnn_fw_libfuzzer")
    numeric = [flag for flag in NUMERIC_FLAGS if not flag.startswith("-O")]
    common = [clang, *STRICT_FLAGS, *numeric, "-g", "-O1", "-fno-omit-frame-pointer", f"-I{out_dir}",
              *(f"-I{firmware / folder}" for folder in ("protocol", "app"))]  # fmt: skip
    harness = binary.with_suffix(".harness.o")
    _run_clang([*common, *([] if coverage else HARNESS_SANITIZE), "-c", str(firmware / HARNESS), "-o", str(harness)])
    targets = [str(firmware / source) for source in target_sources()]
    _run_clang([
        *common, *(COVERAGE if coverage else SANITIZE), "-iquote", str(exported.directory), *targets,
        str(exported.directory / f"{exported.name}.c"), str(harness), "-o", str(binary),
    ])  # fmt: skip
    return binary


def _run_clang(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or result.stderr.strip():
        raise RuntimeError(f"building the libFuzzer harness failed:\n{' '.join(command)}\n{result.stderr.strip()}")


# --- running ----------------------------------------------------------------------------------------------
@dataclass
class FuzzReport:
    """What one libFuzzer run did, from its log (``cov``: covered edges, ``ft``: features, as libFuzzer counts)."""

    returncode: int
    executions: int = 0
    exec_per_second: int = 0
    seconds: int = 0
    initial_cov: int = 0
    initial_ft: int = 0
    cov: int = 0
    ft: int = 0
    corpus_units: int = 0
    new_units: int = 0
    peak_rss_mb: int = 0
    findings: list[str] = field(default_factory=list)
    finding_report: str = ""  # the sanitizer's or the harness's report of the first finding
    log_tail: str = ""

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.findings

    def summary(self) -> str:
        verdict = "no findings" if self.clean else f"FINDINGS {self.findings} (exit {self.returncode})"
        return (
            f"libFuzzer: {self.executions:,} executions in {self.seconds} s ({self.exec_per_second:,}/s), "
            f"cov {self.initial_cov} -> {self.cov} edges, ft {self.initial_ft} -> {self.ft}, "
            f"corpus {self.corpus_units} units ({self.new_units} new), {verdict}"
        )


def _last_int(pattern: str, log: str) -> int:
    matches = re.findall(pattern, log, flags=re.MULTILINE)
    return int(matches[-1]) if matches else 0


def parse_log(log: str, returncode: int) -> FuzzReport:
    """Read libFuzzer's status lines (INITED, DONE, NEW...) and its -print_final_stats block."""
    report = FuzzReport(returncode=returncode, log_tail=log[-4000:])
    report.executions = _last_int(r"^stat::number_of_executed_units:\s*(\d+)", log)
    report.exec_per_second = _last_int(r"^stat::average_exec_per_sec:\s*(\d+)", log)
    report.new_units = _last_int(r"^stat::new_units_added:\s*(\d+)", log)
    report.peak_rss_mb = _last_int(r"^stat::peak_rss_mb:\s*(\d+)", log)
    report.seconds = _last_int(r"^Done \d+ runs in (\d+) second", log)
    initial = re.search(r"INITED cov: (\d+) ft: (\d+)", log)
    if initial:
        report.initial_cov, report.initial_ft = int(initial.group(1)), int(initial.group(2))
    report.cov = _last_int(r"\bcov: (\d+) ft:", log)
    report.ft = _last_int(r"\bcov: \d+ ft: (\d+)", log)
    report.corpus_units = _last_int(r"\bcorp: (\d+)/", log)
    report.findings = re.findall(r"Test unit written to (\S+)", log)
    report.finding_report = _first_report(log)
    if returncode != 0 and not report.findings:
        report.findings = [line for line in log.splitlines() if "ERROR:" in line or "SUMMARY:" in line][:5]
    return report


def _first_report(log: str) -> str:
    """The first report in a libFuzzer log (a harness rule, a sanitizer, a timeout) and the 40 lines after it."""
    lines = log.splitlines()
    pattern = re.compile(r"protocol rule broken|==\d+==\s?ERROR|runtime error:|ERROR: libFuzzer")
    for index, line in enumerate(lines):
        if pattern.search(line):
            return "\n".join(lines[index : index + 40])
    return ""


def run_fuzzer(
    binary: Path,
    work: Path,
    seeds: list[Path],
    seconds: int | None = None,
    runs: int | None = None,
    seed: int | None = None,
) -> FuzzReport:
    """Fuzz for ``seconds`` (or ``runs`` executions), starting from ``seeds``; everything it writes stays in
    ``work``: new inputs in work/corpus (libFuzzer writes only into the first corpus folder), findings in
    work/crashes, the log in work/fuzz.log. ``seed`` fixes libFuzzer's random choices (default: random)."""
    corpus, crashes = work / "corpus", work / "crashes"
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    limits = [f"-max_total_time={seconds}"] if seconds is not None else []
    limits += [f"-runs={runs}"] if runs is not None else []
    limits += [f"-seed={seed}"] if seed is not None else []
    command = [str(binary), *limits, *FUZZ_OPTIONS, f"-artifact_prefix={crashes}/", str(corpus), *map(str, seeds)]
    environment = {**os.environ, **SANITIZER_ENV}
    timeout = (seconds or 600) + 300
    log_file = work / "fuzz.log"  # written as the run goes: `tail -f` follows a long run
    with log_file.open("w") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=environment, timeout=timeout)
    return parse_log(log_file.read_text(errors="replace"), result.returncode)


@dataclass
class Coverage:
    """Line and branch coverage of the firmware's protocol sources over a corpus (llvm-cov)."""

    lines: tuple[int, int]  # covered, total
    branches: tuple[int, int]
    functions: tuple[int, int]
    per_file: dict[str, tuple[int, int]]  # file name: covered lines, total lines

    @staticmethod
    def percent(part: tuple[int, int]) -> float:
        return 100.0 * part[0] / part[1] if part[1] else 0.0

    def summary(self) -> str:
        files = ", ".join(f"{name} {self.percent(part):.0f}%" for name, part in self.per_file.items())
        return (
            f"firmware coverage: lines {self.lines[0]}/{self.lines[1]} ({self.percent(self.lines):.1f}%), "
            f"branches {self.branches[0]}/{self.branches[1]} ({self.percent(self.branches):.1f}%), "
            f"functions {self.functions[0]}/{self.functions[1]} [{files}]"
        )


def measure_coverage(binary: Path, work: Path, corpora: list[Path], firmware: Path | None = None) -> Coverage:
    """Replay ``corpora`` through a coverage build (``-runs=0``) and summarise the firmware sources' coverage."""
    firmware = firmware or firmware_dir()
    raw, merged = work / "cov.profraw", work / "cov.profdata"
    environment = {**os.environ, "LLVM_PROFILE_FILE": str(raw)}
    replay = [str(binary), "-runs=0", *FUZZ_OPTIONS, *map(str, corpora)]
    subprocess.run(replay, capture_output=True, text=True, env=environment, timeout=600, check=True)
    subprocess.run([llvm_tool("llvm-profdata"), "merge", "-sparse", str(raw), "-o", str(merged)], check=True)
    sources = [str(firmware / source) for source in target_sources()]
    exported = subprocess.run(
        [llvm_tool("llvm-cov"), "export", "-summary-only", str(binary), f"-instr-profile={merged}", *sources],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(exported.stdout)["data"][0]
    return _coverage_from_json(data)


def _coverage_from_json(data: dict[str, Any]) -> Coverage:
    def pair(summary: dict[str, Any], kind: str) -> tuple[int, int]:
        return int(summary[kind]["covered"]), int(summary[kind]["count"])

    totals = data["totals"]
    per_file = {Path(entry["filename"]).name: pair(entry["summary"], "lines") for entry in data["files"]}
    return Coverage(pair(totals, "lines"), pair(totals, "branches"), pair(totals, "functions"), per_file)


# --- the seed corpus --------------------------------------------------------------------------------------
def _values(count: int, start: int) -> bytes:
    """``count`` int16 values (fixed16 raw), a deterministic spread of signs and magnitudes."""
    return struct.pack(f"<{count}h", *(((start + 977 * i) % 20001) - 10000 for i in range(count)))


def _step(flags: int) -> bytes:
    return bytes([flags]) + _values(1, 4096) + _values(INPUTS, 1)


def _bench(count: int) -> bytes:
    return struct.pack("<I", count) + _values(1, 4096) + _values(INPUTS, 7)


def _frame_with_header(cmd: int, seq: int, length: int, payload: bytes) -> bytes:
    """A frame whose header states ``length`` whatever the payload is, with a correct CRC."""
    body = struct.pack("<BBH", cmd, seq, length) + payload
    return P.cobs_encode(body + struct.pack("<H", P.crc16(body))) + b"\0"


def _bad_crc(frame: bytes) -> bytes:
    raw = bytearray(P.cobs_decode(frame[:-1]))
    raw[-1] ^= 0x5A
    return P.cobs_encode(bytes(raw)) + b"\0"


def corpus_seeds() -> dict[str, bytes]:
    """The seed inputs: each is a byte stream as a host sends it (0x00 before every frame, as serial_host does)."""
    E = P.encode_frame
    state = _values(STATE, 3)
    session = [E(P.HELLO, 1), E(P.SET_STATE, 2, state), E(P.STEP, 3, _step(1)), E(P.STEP, 3, _step(1)),
               E(P.READ_STATE, 4), E(P.BENCH, 5, _bench(2)), E(P.STEP, 6, _step(0)), E(P.RESET, 7),
               E(P.HELLO, 7)]  # fmt: skip
    valid = {
        "hello": E(P.HELLO, 1),
        "reset": E(P.RESET, 2),
        "step": E(P.STEP, 3, _step(0)),
        "step-want-state": E(P.STEP, 4, _step(P.STEP_WANT_STATE)),
        "read-state": E(P.READ_STATE, 5),
        "set-state": E(P.SET_STATE, 6, state),
        "bench": E(P.BENCH, 7, _bench(3)),
        "bench-zero": E(P.BENCH, 8, _bench(0)),
        "session": b"".join(b"\0" + frame for frame in session),
    }
    malformed = {
        "bad-crc": _bad_crc(E(P.STEP, 9, _step(0))),
        "wrong-length": E(P.STEP, 10, _step(0)[:-2]),
        "unknown-command": E(0x42, 11, b"\x01\x02"),
        "long-payload-blocks": E(0x43, 12, bytes(range(1, 256)) * 2),  # COBS blocks of 254 bytes
        "len-above-limit": _frame_with_header(P.SET_STATE, 13, P.MAX_PAYLOAD + 1, bytes(P.MAX_PAYLOAD + 1)),
        "len-mismatch": _frame_with_header(P.STEP, 14, 5, _step(0)),
        "short": P.cobs_encode(b"\x01\x02\x00") + b"\0",
        "cut": E(P.SET_STATE, 15, state)[:20],
        "over-long-run": b"\x55" * (P.MAX_ENCODED + 50) + b"\0" + E(P.HELLO, 16),
        "garbage-then-frame": b"\x13\x37\xff\x02" + b"\0" + E(P.READ_STATE, 17),
        "empty-frames": b"\0\0\0" + E(P.RESET, 18) + b"\0\0",
    }
    return {**valid, **malformed}


def write_corpus(folder: Path) -> list[Path]:
    """Write the seeds into ``folder`` (one file each, named after what it holds)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in corpus_seeds().items():
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


# --- make fuzz --------------------------------------------------------------------------------------------
def export_model(folder: Path) -> Export:
    """Export the corpus's model (fixed16 LTC, AutoNCP(19, 2), 20 inputs, torch seed 0) into ``folder``."""
    import torch
    from ncps.torch import LTC
    from ncps.wirings import AutoNCP

    torch.manual_seed(0)
    weights, calib = folder / "ltc.pt", folder / "calib.npz"
    torch.save(LTC(INPUTS, AutoNCP(STATE, OUTPUTS)).state_dict(), weights)
    np.savez(calib, x=np.random.default_rng(0).normal(size=(4, 50, INPUTS)))
    export(load_model_source(weights), folder / "ltc-fixed16", "fixed16", name="ltc", calib=calib)
    return load_export(folder / "ltc-fixed16")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600, help="fuzzing time (default 600)")
    parser.add_argument("--out", type=Path, default=Path("build/fuzz"), help="binaries, corpus, crashes, log")
    parser.add_argument("--write-corpus", type=Path, metavar="DIR", help="only (re)write the seed corpus into DIR")
    args = parser.parse_args(argv)
    if args.write_corpus is not None:
        print("\n".join(str(path) for path in write_corpus(args.write_corpus)))
        return 0
    out: Path = args.out
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_model(Path(tmp))
        binary = build_fuzzer(exported, out / "bin")
        cov_binary = build_fuzzer(exported, out / "bin", coverage=True)
    report = run_fuzzer(binary, out, [CORPUS_DIR], seconds=args.seconds)
    coverage = measure_coverage(cov_binary, out, [out / "corpus", CORPUS_DIR])
    (out / "report.json").write_text(json.dumps({"fuzz": asdict(report), "coverage": asdict(coverage)}, indent=2))
    print(report.summary())
    print(coverage.summary())
    print(f"log {out / 'fuzz.log'}, corpus {out / 'corpus'}, findings in {out / 'crashes'}")
    if not report.clean:
        print(report.finding_report or report.log_tail, file=sys.stderr)
        print(f"reproduce one: {binary} {out / 'crashes'}/<file>", file=sys.stderr)
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
