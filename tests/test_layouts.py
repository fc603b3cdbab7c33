"""``lnn-edge export --layout zephyr|platformio|arduino|espidf``: each layout's files against its build system's
documented format, and its sources compiled the way that build system compiles them (which files, which include
folders, which flags, read from the layout's own files), with the host gcc, arm-none-eabi-gcc and, for ESP-IDF,
riscv64-unknown-elf-gcc for the ESP32-C3's RV32IMC. On the host the result is linked and stepped, bit-exact with
the emulator; the Arduino sketch runs against a stand-in for the few Arduino calls it makes.

None of the four build systems runs here (each needs downloads beyond the package registries): these tests do not
prove that the build system accepts the files, only that they say what its documentation asks for. The formats:

- Zephyr modules: https://docs.zephyrproject.org/latest/develop/modules.html (``zephyr/module.yml``: ``name``,
  ``build: cmake: <folder with CMakeLists.txt>``, ``build: kconfig: <file>``; ``zephyr_library_*`` functions).
- PlatformIO ``library.json``: https://docs.platformio.org/en/stable/manifests/library-json/ (``name``,
  ``version``; ``build``: ``srcDir``, ``includeDir``, ``srcFilter`` (``+<glob>`` / ``-<glob>`` in order, relative
  to ``srcDir``), ``flags``).
- Arduino libraries, 1.5 format (rev. 2.2): https://arduino.github.io/arduino-cli/latest/library-specification/
  (``library.properties`` fields; ``src/`` compiled recursively and the only include folder when it exists;
  ``examples/<sketch>/<sketch>.ino``).
- ESP-IDF components: https://docs.espressif.com/projects/esp-idf/en/latest/esp32/api-guides/build-system.html
  (``idf_component_register(SRCS ... INCLUDE_DIRS ...)``, ``target_compile_options(${COMPONENT_LIB} ...)``, the
  ``ESP_PLATFORM`` variable) and https://docs.espressif.com/projects/idf-component-manager/en/latest/reference/manifest_file.html
  (``idf_component.yml``: ``version``, ``description``, ``dependencies``).
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_cmake_package import C_TYPES, RUN_MODEL
from test_firmware_helpers import shared_export, short_sequences

from lnn_edge.cli import cli
from lnn_edge.codegen.export import Export, export, load_export, load_model_source, model_sources, unlisted_files
from lnn_edge.codegen.layouts import FP_FLAGS
from lnn_edge.errors import LnnEdgeError
from lnn_edge.host.verify import emulator_raw, first_mismatch, raw_inputs
from lnn_edge.quant.emulator import Emulator
from lnn_edge.target.toolchain import CORE_FLAGS

LAYOUTS = ("zephyr", "platformio", "arduino", "espidf")
CASES = [("ltc", "fixed16"), ("cfc", "float32")]
SEMVER = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
COMPILERS = {
    "host": ["gcc"],
    "cortex-m4f": ["arm-none-eabi-gcc", *CORE_FLAGS["cortex-m4f"]],
    "cortex-m0": ["arm-none-eabi-gcc", *CORE_FLAGS["cortex-m0"]],
    # Debian's riscv64-unknown-elf-gcc has no C library: -ffreestanding takes stdint.h from gcc itself, which is
    # all the model's C includes.
    "esp32c3": ["riscv64-unknown-elf-gcc", "-march=rv32imc", "-mabi=ilp32", "-ffreestanding"],
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], Export]:
    """Every layout for an LTC fixed16 and a CfC float32 (the tests' shared models, exported again)."""
    result = {}
    root = tmp_path_factory.mktemp("layouts")
    for cell, precision in CASES:
        shared = shared_export(tmp_path_factory, precision, cell)
        weights = shared.directory.parent / f"{cell}.pt"
        calib = shared.directory.parent / "calib.npz" if precision != "float32" else None
        for layout in LAYOUTS:
            name = f"{cell}_{layout}"
            source = load_model_source(weights)
            result[layout, cell, precision] = export(source, root / name, precision, name=name, calib=calib,
                                                     layout=layout)  # fmt: skip
    return result


def simple_yaml(text: str) -> dict[str, object]:
    """The YAML subset the layouts write (nested mappings by two-space indent, plain or double-quoted scalars,
    comments): enough to read them back; anything else fails the test."""
    root: dict[str, object] = {}
    stack: list[tuple[int, dict[str, object]]] = [(-1, root)]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?", line.strip())
        assert match, f"not in the YAML subset: {line!r}"
        while stack[-1][0] >= indent:
            stack.pop()
        key, value = match.group(1), match.group(2)
        if value is None:
            child: dict[str, object] = {}
            stack[-1][1][key] = child
            stack.append((indent, child))
        else:
            assert not value.startswith(("'", "[", "{", "|", ">")), f"not in the YAML subset: {line!r}"
            stack[-1][1][key] = json.loads(value) if value.startswith('"') else value
    return root


def cmake_calls(text: str, function: str) -> list[list[str]]:
    """The arguments of every call of ``function`` in a CMake file (comments dropped, quotes removed)."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    calls = re.findall(rf"\b{function}\(([^)]*)\)", code)
    return [[arg.strip('"') for arg in call.split()] for call in calls]


# --- the files against each documented format ------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "precision"), CASES)
def test_zephyr_module_structure(exports: dict[tuple[str, str, str], Export], cell: str, precision: str) -> None:
    exported = exports["zephyr", cell, precision]
    root, name = exported.directory, exported.name
    module = simple_yaml((root / "zephyr" / "module.yml").read_text())
    assert module["name"] == f"lnn_{name}"
    build = module["build"]
    assert isinstance(build, dict)
    assert (root / str(build["cmake"]) / "CMakeLists.txt").is_file()
    kconfig = (root / str(build["kconfig"])).read_text()
    symbol = f"LNN_{name.upper()}"
    # Kconfig: one bool symbol, its prompt, a help text; the CMake code is guarded by the same symbol.
    assert re.search(rf"^config {symbol}\n\tbool \"[^\"]+\"\n\thelp\n(\t  .+\n)+", kconfig, re.M), kconfig
    cmakelists = (root / "zephyr" / "CMakeLists.txt").read_text()
    assert cmake_calls(cmakelists, "if") == [[f"CONFIG_{symbol}"]]
    assert cmake_calls(cmakelists, "zephyr_library_named") == [[f"lnn_{name}"]]
    assert cmake_calls(cmakelists, "zephyr_library_compile_options") == (
        [list(FP_FLAGS)] if precision == "float32" else []
    )


@pytest.mark.parametrize(("cell", "precision"), CASES)
def test_platformio_library_structure(exports: dict[tuple[str, str, str], Export], cell: str, precision: str) -> None:
    exported = exports["platformio", cell, precision]
    manifest = json.loads((exported.directory / "library.json").read_text())
    assert manifest["name"] == f"lnn_{exported.name}" and SEMVER.fullmatch(manifest["version"])
    assert set(manifest) <= {"name", "version", "description", "keywords", "frameworks", "platforms", "build"}
    build = manifest["build"]
    assert set(build) <= {"srcDir", "includeDir", "srcFilter", "flags"}
    assert (exported.directory / build["includeDir"] / f"{exported.name}.h").is_file()
    assert platformio_sources(exported.directory, build) == [f"{exported.name}.c"]  # not example_main.c
    assert build["flags"] == (list(FP_FLAGS) if precision == "float32" else [])


def platformio_sources(root: Path, build: dict[str, object]) -> list[str]:
    """The files PlatformIO compiles: every C/C++ file under srcDir, filtered by srcFilter's +<glob>/-<glob> in
    order (a folder pattern covers what is inside it)."""
    src = root / str(build.get("srcDir", "src"))
    files = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.suffix in (".c", ".cpp", ".S"))
    selected: set[str] = set()
    rules = build.get("srcFilter", ["+<*>"])
    assert isinstance(rules, list)
    for rule in rules:
        match = re.fullmatch(r"([+-])<([^>]+)>", rule)
        assert match, rule
        hits = {f for f in files if fnmatch.fnmatch(f, match.group(2)) or f.startswith(match.group(2) + "/")}
        selected = selected | hits if match.group(1) == "+" else selected - hits
    return sorted(selected)


ARDUINO_CATEGORIES = {"Display", "Communication", "Signal Input/Output", "Sensors", "Device Control", "Timing",
                      "Data Storage", "Data Processing", "Other"}  # fmt: skip


@pytest.mark.parametrize(("cell", "precision"), CASES)
def test_arduino_library_structure(exports: dict[tuple[str, str, str], Export], cell: str, precision: str) -> None:
    exported = exports["arduino", cell, precision]
    root, name = exported.directory, exported.name
    lines = (root / "library.properties").read_text().splitlines()
    properties = dict(line.split("=", 1) for line in lines)
    assert len(properties) == len(lines)  # key=value, one per line, no key twice
    for field in ("name", "version", "author", "maintainer", "sentence", "paragraph", "category", "architectures"):
        assert properties.get(field), field
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}", properties["name"])
    assert SEMVER.fullmatch(properties["version"])
    assert properties["category"] in ARDUINO_CATEGORIES
    assert properties["architectures"] == "*"
    assert (root / "src" / properties["includes"]).is_file()
    # src/ holds the model's C and the runtime, the same bytes as the export's own (which lnn-edge compiles).
    for path in [f"{name}.c", f"{name}.h", *(f for f in exported.manifest["files"] if f.startswith("lnn/"))]:
        assert (root / "src" / path).read_bytes() == (root / path).read_bytes(), path
    assert not [p for p in (root / "src").rglob("*.c") if p.name != f"{name}.c"]  # example_main.c stays out
    sketches = list((root / "examples").iterdir())
    assert [p.name for p in sketches] == [f"{name}_step"]
    assert (sketches[0] / f"{name}_step.ino").is_file()  # the sketch is named after its folder


@pytest.mark.parametrize(("cell", "precision"), CASES)
def test_espidf_component_structure(exports: dict[tuple[str, str, str], Export], cell: str, precision: str) -> None:
    exported = exports["espidf", cell, precision]
    manifest = simple_yaml((exported.directory / "idf_component.yml").read_text())
    assert set(manifest) <= {"version", "description", "dependencies", "targets", "url", "license", "maintainers"}
    assert SEMVER.fullmatch(str(manifest["version"]))
    dependencies = manifest["dependencies"]
    assert isinstance(dependencies, dict) and re.fullmatch(r">=\d+\.\d+", str(dependencies["idf"]))
    cmakelists = (exported.directory / "CMakeLists.txt").read_text()
    # Under idf.py the component registers itself and returns before anything of the plain CMake package.
    # (before cmake_minimum_required: ESP-IDF 4.x ships CMake 3.16, older than the plain package needs).
    branch = cmakelists.index("if(ESP_PLATFORM)")
    assert branch < cmakelists.index("cmake_minimum_required(")
    assert "return()" in cmakelists[branch : cmakelists.index("cmake_minimum_required(")]
    (register,) = cmake_calls(cmakelists, "idf_component_register")
    assert register == ["SRCS", f"{exported.name}.c", "INCLUDE_DIRS", "."]
    component_flags = [call for call in cmake_calls(cmakelists, "target_compile_options") if "${COMPONENT_LIB}" in call]
    assert component_flags == ([["${COMPONENT_LIB}", "PRIVATE", *FP_FLAGS]] if precision == "float32" else [])


def test_espidf_component_is_still_the_plain_cmake_package(
    exports: dict[tuple[str, str, str], Export], tmp_path: Path
) -> None:
    """Outside ESP-IDF (no ESP_PLATFORM) the component's CMakeLists.txt configures and builds as every export's."""
    exported = exports["espidf", "cfc", "float32"]
    for step in (["-S", str(exported.directory), "-B", str(tmp_path)], ["--build", str(tmp_path)]):
        result = subprocess.run(["cmake", *step], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / f"liblnn_{exported.name}.a").is_file()


def test_every_layout_is_listed_and_hashed_in_the_manifest(exports: dict[tuple[str, str, str], Export]) -> None:
    for (layout, _, _), exported in exports.items():
        loaded = load_export(exported.directory)  # every listed file matches its hash
        assert loaded.manifest["layout"] == layout
        on_disk = {p.relative_to(exported.directory).as_posix() for p in exported.directory.rglob("*") if p.is_file()}
        assert on_disk - set(loaded.manifest["files"]) == {"manifest.json"}
        assert "CMakeLists.txt" in loaded.manifest["files"]
        # What lnn-edge itself compiles (verify, build) is the export's own C, never a layout's copy.
        assert not [path for path in model_sources(loaded) if path.startswith(("src/", "zephyr/", "examples/"))]


def test_cli_layout_option_help_and_errors(exports: dict[tuple[str, str, str], Export], tmp_path: Path) -> None:
    runner = CliRunner()
    help_text = runner.invoke(cli, ["export", "--help"]).output
    assert "--layout [cmake|zephyr|platformio|arduino|espidf]" in help_text and "--layout espidf" in help_text
    model = exports["zephyr", "cfc", "float32"].directory / "model.lnn"
    result = runner.invoke(cli, ["export", str(model), "-o", str(tmp_path / "out"), "--precision", "float32",
                                 "--name", "m", "--layout", "arduino"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"  {tmp_path / 'out' / 'examples' / 'm_step' / 'm_step.ino'}" in result.output.splitlines()
    assert load_export(tmp_path / "out").manifest["layout"] == "arduino"
    bad = runner.invoke(cli, ["export", str(model), "-o", str(tmp_path / "bad"), "--layout", "mbed"])
    assert (
        bad.exit_code == 2 and "'mbed' is not one of 'cmake', 'zephyr', 'platformio', 'arduino', 'espidf'" in bad.output
    )
    assert not (tmp_path / "bad").exists()


def test_reexport_with_another_layout_removes_the_old_layouts_files_only(tmp_path: Path,
                                                                         exports: dict[tuple[str, str, str], Export]) -> None:  # fmt: skip
    """A layout's folders are lnn-edge's only through the files listed: a user's file in src/ keeps src/."""
    source = exports["arduino", "cfc", "float32"].qmodel
    out = tmp_path / "out"
    export(source, out, "float32", name="m", layout="arduino")
    (out / "src" / "mine.txt").write_text("the user's")
    assert unlisted_files(load_export(out)) == ["src/mine.txt"]  # what lnn-edge warns about: not part of the export
    export(source, out, "float32", name="m", layout="zephyr")
    assert (out / "src" / "mine.txt").read_text() == "the user's"
    assert sorted(p.name for p in (out / "src").iterdir()) == ["mine.txt"]
    assert not (out / "examples").exists()
    assert (out / "zephyr" / "module.yml").is_file()


def test_reexport_never_writes_through_a_linked_layout_folder(tmp_path: Path,
                                                              exports: dict[tuple[str, str, str], Export]) -> None:  # fmt: skip
    source = exports["arduino", "cfc", "float32"].qmodel
    out = tmp_path / "out"
    export(source, out, "float32", name="m", layout="zephyr")
    victim = tmp_path / "victim"
    victim.mkdir()
    (out / "zephyr" / "module.yml").unlink()
    (out / "zephyr" / "CMakeLists.txt").unlink()
    (out / "zephyr" / "Kconfig").unlink()
    (out / "zephyr").rmdir()
    (out / "zephyr").symlink_to(victim)
    with pytest.raises(LnnEdgeError, match="is a link or a file"):
        export(source, out, "float32", name="m", layout="zephyr")
    assert list(victim.iterdir()) == []


def test_unknown_layout_is_a_clear_error(exports: dict[tuple[str, str, str], Export], tmp_path: Path) -> None:
    with pytest.raises(LnnEdgeError, match="--layout 'mbed' is not a layout lnn-edge writes: use one of cmake, zephyr"):
        export(exports["arduino", "cfc", "float32"].qmodel, tmp_path / "out", "float32", name="m", layout="mbed")
    assert not (tmp_path / "out").exists()


# --- the sources compiled as each build system would ------------------------------------------------------------


@dataclass
class Recipe:
    """What a build system compiles for the library: the sources, the include folders, the library's flags."""

    sources: list[Path]
    includes: list[Path]
    flags: list[str]


def recipe(exported: Export, layout: str) -> Recipe:
    """Read from the layout's own files, as its build system would."""
    root = exported.directory
    if layout == "zephyr":
        text = (
            (root / "zephyr" / "CMakeLists.txt").read_text().replace("${CMAKE_CURRENT_LIST_DIR}", str(root / "zephyr"))
        )
        (listed,) = cmake_calls(text, "zephyr_library_sources")
        (includes,) = cmake_calls(text, "zephyr_include_directories")
        flags = [f for call in cmake_calls(text, "zephyr_library_compile_options") for f in call]
        return Recipe([Path(s) for s in listed], [Path(i) for i in includes], flags)
    if layout == "platformio":
        build = json.loads((root / "library.json").read_text())["build"]
        src = root / build["srcDir"]
        selected = [src / f for f in platformio_sources(root, build)]
        return Recipe(selected, [root / build["includeDir"], src], list(build["flags"]))
    if layout == "arduino":  # 1.5 format: src/ recursively, src/ the include folder, no library flags
        return Recipe(sorted((root / "src").rglob("*.c")), [root / "src"], [])
    text = (root / "CMakeLists.txt").read_text()
    (register,) = cmake_calls(text, "idf_component_register")
    sources = register[register.index("SRCS") + 1 : register.index("INCLUDE_DIRS")]
    includes = register[register.index("INCLUDE_DIRS") + 1 :]
    flags = [f for call in cmake_calls(text, "target_compile_options") if call[:2] == ["${COMPONENT_LIB}", "PRIVATE"]
             for f in call[2:]]  # fmt: skip
    return Recipe([root / s for s in sources], [root / i for i in includes], flags)


def compile_object(compiler: list[str], recipe: Recipe, source: Path, obj: Path, extra: list[str]) -> None:
    command = [*compiler, "-std=gnu11", "-O2", *WARNINGS, *recipe.flags, *extra,
               *(f"-I{i}" for i in recipe.includes), "-c", str(source), "-o", str(obj)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), f"{' '.join(command)}\n{result.stderr}"


TARGETS = [(layout, target) for layout in LAYOUTS for target in ("host", "cortex-m4f", "cortex-m0")]
TARGETS.append(("espidf", "esp32c3"))


@pytest.mark.parametrize(("layout", "target"), TARGETS)
def test_layout_sources_compile_under_the_build_systems_rules(
    exports: dict[tuple[str, str, str], Export], tmp_path: Path, layout: str, target: str
) -> None:
    """-std=gnu11, the GNU default of these build systems (where FMA contraction is on: hence the float32 flags).
    The application's file sits in another folder and sees the model only through the layout's include folders."""
    for cell, precision in CASES:
        exported = exports[layout, cell, precision]
        steps = recipe(exported, layout)
        assert [s.name for s in steps.sources] == [f"{exported.name}.c"]
        for source in steps.sources:
            compile_object(COMPILERS[target], steps, source, tmp_path / f"{source.stem}.o", [])
        app = tmp_path / "app" / f"{exported.name}_app.c"
        app.parent.mkdir(exist_ok=True)
        app.write_text(f'#include "{exported.name}.h"\nint app_step({exported.name}_state_t *s, '
                       f"const {exported.name}_value_t *x, {exported.name}_value_t *y)\n{{\n"
                       f"    return {exported.name}_step(s, x, y);\n}}\n")  # fmt: skip
        compile_object(COMPILERS[target], steps, app, tmp_path / f"{exported.name}_app.o", [])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_build_on_the_host_is_bit_exact(
    exports: dict[tuple[str, str, str], Export], tmp_path: Path, layout: str
) -> None:
    """Built the layout's way and linked with a runner, both models step bit for bit as the emulator does."""
    for cell, precision in CASES:
        exported = exports[layout, cell, precision]
        steps = recipe(exported, layout)
        objects = []
        for source in steps.sources:
            objects.append(tmp_path / f"{source.stem}.o")
            compile_object(COMPILERS["host"], steps, source, objects[-1], [])
        runner = tmp_path / f"run_{exported.name}.c"
        name = exported.name
        runner.write_text(f'#include <stdio.h>\n#include "{name}.h"\n' + RUN_MODEL.format(m=name, M=name.upper())
                          + f"int main(int argc, char **argv)\n{{\n    return argc == 3 ? run_{name}(argv[1], argv[2]) : 2;\n}}\n")  # fmt: skip
        objects.append(tmp_path / f"run_{name}.o")
        compile_object(COMPILERS["host"], steps, runner, objects[-1], ["-Wno-unused-result"])
        binary = tmp_path / f"run_{name}"
        subprocess.run(["gcc", *map(str, objects), "-o", str(binary)], check=True)
        assert_runs_like_the_emulator(binary, exported, tmp_path)


def assert_runs_like_the_emulator(binary: Path, exported: Export, work: Path) -> None:
    emulator = Emulator(exported.qmodel)
    sequences = short_sequences(exported, batch=2, steps=20)
    x_raw, dt_raw = raw_inputs(emulator, sequences)
    ctype = C_TYPES[exported.manifest["value_type"]]
    inputs, outputs = work / f"{exported.name}.in", work / f"{exported.name}.out"
    steps = np.concatenate([x_raw, dt_raw[..., None]], axis=2).astype(ctype)
    inputs.write_bytes(np.array(x_raw.shape[:2], dtype=np.int32).tobytes() + steps.tobytes())
    subprocess.run([str(binary), str(inputs), str(outputs)], check=True)
    y_e, state_e = emulator_raw(emulator.run(sequences.x, sequences.dt, check=False), exported.qmodel.is_fixed)
    got = np.fromfile(outputs, dtype=ctype).reshape(*y_e.shape[:2], -1)
    mismatch = first_mismatch(y_e, got[..., : y_e.shape[2]], "output")
    mismatch = mismatch or first_mismatch(state_e, got[..., y_e.shape[2] :], "state")
    assert mismatch is None, f"{exported.name}: {mismatch}"


ARDUINO_STAND_IN = """/* Arduino.h, a stand-in for the few Arduino calls the example sketch makes (not the Arduino core): Serial
 * printing to stdout, delay() doing nothing. Only for compiling and running the sketch in tests. */
#include <stdio.h>
struct SerialStandIn {
    void begin(long) {}
    void print(const char *text) { fputs(text, stdout); }
    void print(long value) { printf("%ld", value); }
    void println(const char *text) { puts(text); }
    void println(double value, int digits) { printf("%.*f\\n", digits, value); }
};
static SerialStandIn Serial;
static inline void delay(unsigned long) {}
"""

SKETCH_MAIN = """void setup();
void loop();
int main()
{
    setup();
    for (int i = 0; i < STEPS; i++) {
        loop();
    }
    return 0;
}
"""


@pytest.mark.parametrize(("cell", "precision"), CASES)
@pytest.mark.parametrize("target", ["host", "cortex-m4f"])
def test_arduino_sketch_compiles_and_steps_the_model(
    exports: dict[tuple[str, str, str], Export], tmp_path: Path, cell: str, precision: str, target: str
) -> None:
    """The sketch as the Arduino builder treats it: C++ with Arduino.h included first, the library's src/ on the
    include path, the library's .c compiled as C. On the host it runs: its printed outputs are the emulator's."""
    exported = exports["arduino", cell, precision]
    name = exported.name
    (tmp_path / "Arduino.h").write_text(ARDUINO_STAND_IN)
    sketch = exported.directory / "examples" / f"{name}_step" / f"{name}_step.ino"
    cpp = tmp_path / "sketch.cpp"
    cpp.write_text('#include "Arduino.h"\n' + sketch.read_text() + SKETCH_MAIN.replace("STEPS", "12"))
    compiler = {"host": ["g++"], "cortex-m4f": ["arm-none-eabi-g++", *CORE_FLAGS["cortex-m4f"]]}[target]
    steps = recipe(exported, "arduino")
    command = [*compiler, "-O2", *WARNINGS, f"-I{tmp_path}", f"-I{exported.directory / 'src'}", "-c", str(cpp),
               "-o", str(tmp_path / "sketch.o")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    c_compiler = COMPILERS[target]
    compile_object(c_compiler, steps, steps.sources[0], tmp_path / "model.o", [])
    if target != "host":
        return
    subprocess.run(["g++", str(tmp_path / "sketch.o"), str(tmp_path / "model.o"), "-o", str(tmp_path / "sketch")],
                   check=True)  # fmt: skip
    printed = subprocess.run([str(tmp_path / "sketch")], capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == expected_sketch_lines(exported, 12)


def expected_sketch_lines(exported: Export, steps: int) -> list[str]:
    """What the sketch prints, from the emulator: its inputs ((t + i) % 3 - 1 sensor units; times 0.5 in float32)
    at the default time step, its first output with 6 decimals."""
    qmodel = exported.qmodel
    inputs = qmodel.model.input_size
    x = np.array([[(t + i) % 3 - 1 for i in range(inputs)] for t in range(steps)], dtype=np.float64)[None]
    if not qmodel.is_fixed:
        x = (x.astype(np.float32) * np.float32(0.5)).astype(np.float64)
    dt = np.full((1, steps), exported.manifest["dt_default"])
    y = Emulator(qmodel).run(x, dt, check=False).y[0, :, 0]  # float32 values, or Q values as floats: exact in a double
    return [f"step {t}: y[0] = {float(y[t]):.6f}" for t in range(steps)]
