"""Coverage-guided fuzzing of the firmware's frame parser and request handler: libFuzzer under ASan/UBSan.

firmware/host/lnn_fw_libfuzzer.c feeds each input to the firmware's own protocol sources and model binding
(compiled by clang with -fsanitize=fuzzer,address,undefined and the fixed16 LTC export the other firmware
tests use), and aborts when a response breaks a rule of docs/serial-protocol.md. The suite runs it for
60 s from the seed corpus in tests/fuzz_corpus/ and fails on any finding; it reports the executions and
the coverage reached (libFuzzer's edges and features, and llvm-cov's line and branch coverage of the
firmware sources). Two bugs planted in a copy of the firmware show that the run finds what it is meant
to: a logic off-by-one (through the harness's protocol rules) and a stack overflow (through ASan).
Long runs: `make fuzz` (docs/fuzzing.md). clang and libFuzzer's runtime come from
scripts/ensure-system-packages.sh; without them these tests fail.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.libfuzzer import (
    CORPUS_DIR,
    INPUTS,
    OUTPUTS,
    SANITIZE,
    STATE,
    Coverage,
    build_fuzzer,
    llvm_tool,
    measure_coverage,
    run_fuzzer,
    write_corpus,
)

from lnn_edge.codegen.export import Export
from lnn_edge.target.build import firmware_dir

FUZZ_SECONDS = 60
SEED = 1  # libFuzzer's random seed: the same mutations on every run of the suite
# Planted bugs: (file, original text, buggy text, what the run must report).
PLANTED = {
    "length-check-off-by-one": (
        "protocol/lnn_fw_frame.c", "if (len > LNN_FW_MAX_PAYLOAD)", "if (len >= LNN_FW_MAX_PAYLOAD)",
        "protocol rule broken",
    ),
    "error-frame-buffer-too-short": (
        "protocol/lnn_fw_server.c", "LNN_FW_COBS_MAX_ENCODED(sizeof raw) + 1u", "LNN_FW_COBS_MAX_ENCODED(sizeof raw) - 1u",
        "AddressSanitizer: stack-buffer-overflow",
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def exported(ltc_fixed16_export: Export) -> Export:
    return ltc_fixed16_export


@pytest.fixture(scope="module")
def fuzzer(exported: Export, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fuzzer(exported, tmp_path_factory.mktemp("libfuzzer"))


def test_clang_links_libfuzzer_with_sanitizers(tmp_path: Path) -> None:
    """clang and libFuzzer's runtime (libclang-rt-dev) are installed: a trivial target links and runs."""
    source = tmp_path / "target.c"
    source.write_text(
        "#include <stddef.h>\n#include <stdint.h>\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n"
    )
    built = subprocess.run([llvm_tool("clang"), *SANITIZE, str(source), "-o", str(tmp_path / "target")],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert built.returncode == 0, (
        f"clang -fsanitize=fuzzer does not link (apt-get install libclang-rt-dev):\n{built.stderr}"
    )
    ran = subprocess.run([str(tmp_path / "target"), "-runs=100"], capture_output=True, text=True, check=False)
    assert ran.returncode == 0 and "Done 100 runs" in ran.stderr


def test_corpus_is_the_generated_one(tmp_path: Path) -> None:
    """tests/fuzz_corpus/ holds exactly the seeds support/libfuzzer.py writes (real frames, lnn_edge.target.protocol).
    Regenerate: python tests/support/libfuzzer.py --write-corpus tests/fuzz_corpus"""
    write_corpus(tmp_path)
    generated = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    kept = {path.name: path.read_bytes() for path in CORPUS_DIR.iterdir()}
    assert kept == generated


def test_export_is_the_model_the_corpus_is_written_for(exported: Export) -> None:
    manifest = exported.manifest
    sizes = (manifest["inputs"], manifest["outputs"], manifest["state_size"], manifest["value_type"])
    assert sizes == (INPUTS, OUTPUTS, STATE, "int16_t")


@pytest.mark.slow
def test_seeds_follow_the_protocol(fuzzer: Path, tmp_path: Path) -> None:
    """Every seed runs through the server with every response as documented (no fuzzing: -runs=0)."""
    report = run_fuzzer(fuzzer, tmp_path, [CORPUS_DIR], runs=0)
    assert report.clean, report.finding_report or report.log_tail
    assert report.executions > len(list(CORPUS_DIR.iterdir()))  # all seeds ran (plus libFuzzer's empty input)


@pytest.mark.slow
def test_bounded_fuzzing_run(
    fuzzer: Path, exported: Export, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """60 s of coverage-guided fuzzing under ASan/UBSan from the seed corpus: no finding, and it explores."""
    report = run_fuzzer(fuzzer, tmp_path / "run", [CORPUS_DIR], seconds=FUZZ_SECONDS, seed=SEED)
    coverage_binary = build_fuzzer(exported, tmp_path / "coverage", coverage=True)
    coverage = measure_coverage(coverage_binary, tmp_path / "coverage", [tmp_path / "run" / "corpus", CORPUS_DIR])
    for name, value in (("libfuzzer", report.summary()), ("coverage", coverage.summary())):
        record_property(name, value)
        print(value)
    assert report.clean, f"libFuzzer found a problem ({tmp_path / 'run' / 'crashes'}):\n{report.finding_report}"
    assert report.seconds >= FUZZ_SECONDS - 1
    assert report.executions >= 20_000, "far fewer executions than the ~2,500/s measured: is the harness stuck?"
    assert report.new_units > 0 and report.cov >= report.initial_cov
    # Regression floors for what the seeds plus the structure-aware mutator reach (docs/fuzzing.md): every line
    # of the frame decoder, and the server but for the model-failure and 64-bit-total paths a fixed16 LTC
    # cannot take.
    assert coverage.per_file["lnn_fw_frame.c"][0] == coverage.per_file["lnn_fw_frame.c"][1]
    assert Coverage.percent(coverage.per_file["lnn_fw_server.c"]) >= 94.0
    assert Coverage.percent(coverage.lines) >= 90.0


@pytest.mark.slow
@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_fuzzer_finds_a_planted_bug(exported: Export, fuzzer: Path, tmp_path: Path, bug: str) -> None:
    """A bug planted in a copy of the firmware is found within the bounded run; the input that shows it is
    answered by the rules on the real firmware."""
    file, original, buggy, symptom = PLANTED[bug]
    firmware = tmp_path / "firmware"
    shutil.copytree(firmware_dir(), firmware)
    source = firmware / file
    text = source.read_text()
    assert text.count(original) == 1, f"{file} no longer holds {original!r}: update the planted bug"
    source.write_text(text.replace(original, buggy))
    report = run_fuzzer(build_fuzzer(exported, tmp_path / "bin", firmware=firmware), tmp_path / "run", [CORPUS_DIR],
                        seconds=FUZZ_SECONDS, seed=SEED)  # fmt: skip
    assert not report.clean and report.findings, f"the planted bug {bug} was not found:\n{report.log_tail}"
    assert symptom in report.finding_report
    replay = _replay(fuzzer, Path(report.findings[0]))
    assert replay.returncode == 0, f"the real firmware fails on the finding too:\n{replay.stderr[-3000:]}"


def _replay(binary: Path, finding: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), str(finding)], capture_output=True, text=True, timeout=120, check=False)
