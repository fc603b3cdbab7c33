"""The build-system files of an export: a CMake package in every export, and one more layout on request.

``lnn-edge export`` writes ``CMakeLists.txt`` into every export (the ``cmake`` layout: targets ``lnn::<name>`` and
``lnn::runtime``, usable through ``add_subdirectory`` and as an installed package). ``--layout`` adds what another
build system reads, beside the same sources: a Zephyr module, a PlatformIO library, an Arduino library or an
ESP-IDF component (docs/integration.md). The decisions live here; the templates in ``templates/`` only say what
the files look like.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lnn_edge.codegen.header import HeaderContext
from lnn_edge.codegen.render import environment
from lnn_edge.errors import LnnEdgeError

LAYOUTS = ("cmake", "zephyr", "platformio", "arduino", "espidf")
"""``cmake`` is every export; each other one adds its build system's files to it."""
FP_FLAGS = ("-ffp-contract=off", "-fno-fast-math")
"""What a float32 step needs from GCC and Clang to compute the emulator's bits (docs/c-api.md): no fused
multiply-add contraction (C99 gnu modes and most build systems default to it) and no fast-math."""


@dataclass(frozen=True)
class PackageContext:
    """What the build-system templates need to know about one export (``c`` in every layout template)."""

    name: str
    NAME: str  # the C macro prefix, as in the other templates
    version: str
    """lnn-edge's version: the package version of every layout."""
    precision: str
    fixed: bool
    model_hash: str
    description: str
    fp_flags: tuple[str, ...]
    """:data:`FP_FLAGS` for float32 exports (the flags the step's bits depend on), empty for fixed point."""
    runtime_headers: tuple[str, ...]
    """The runtime library's files, as export paths ``lnn/<file>``."""
    runtime_id: str
    """SHA-256 over the runtime's paths and contents: equal for two exports exactly when their ``lnn/`` are."""
    espidf: bool
    """Whether ``CMakeLists.txt`` also registers the folder as an ESP-IDF component."""


def runtime_id(runtime: dict[str, str]) -> str:
    """One hash of the runtime library (paths and bytes), to recognise two byte-identical ``lnn/`` copies."""
    digest = hashlib.sha256()
    for path in sorted(runtime):
        digest.update(f"{path}\0{hashlib.sha256(runtime[path].encode()).hexdigest()}\n".encode())
    return digest.hexdigest()


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise LnnEdgeError(f"--layout {layout!r} is not a layout lnn-edge writes: use one of {', '.join(LAYOUTS)}")
    return layout


def package_context(header: HeaderContext, runtime: dict[str, str], layout: str) -> PackageContext:
    """The layouts' context from the model-wide template context (:class:`~lnn_edge.codegen.header.HeaderContext`)
    and the runtime."""
    return PackageContext(
        name=header.name,
        NAME=header.NAME,
        version=header.version,
        precision=header.precision,
        fixed=header.fixed,
        model_hash=header.model_hash,
        description=header.description,
        fp_flags=FP_FLAGS if header.precision == "float32" else (),
        runtime_headers=tuple(sorted(runtime)),
        runtime_id=runtime_id(runtime),
        espidf=layout == "espidf",
    )


def layout_files(c: PackageContext, layout: str, sources: dict[str, str]) -> dict[str, str]:
    """The build-system files of ``layout`` (export path -> text), ``CMakeLists.txt`` always among them.
    ``sources`` are the export's rendered C files (``<name>.c``, ``<name>.h``, ``lnn/*.h``)."""
    check_layout(layout)
    env = environment()
    files = {"CMakeLists.txt": env.get_template("CMakeLists.txt.j2").render(c=c)}
    if layout == "zephyr":
        files.update({
            "zephyr/module.yml": env.get_template("zephyr_module.yml.j2").render(c=c),
            "zephyr/CMakeLists.txt": env.get_template("zephyr_CMakeLists.txt.j2").render(c=c),
            "zephyr/Kconfig": env.get_template("zephyr_Kconfig.j2").render(c=c),
        })  # fmt: skip
    elif layout == "platformio":
        files["library.json"] = platformio_manifest(c)
    elif layout == "arduino":
        files.update(arduino_files(c, sources))
    elif layout == "espidf":
        files["idf_component.yml"] = env.get_template("idf_component.yml.j2").render(c=c)
    return files


def platformio_manifest(c: PackageContext) -> str:
    """``library.json``: the library builds ``<name>.c`` only (not example_main.c), from the export's root,
    which is also its include folder; float32 adds :data:`FP_FLAGS` to the library's own compile."""
    manifest: dict[str, Any] = {
        "name": f"lnn_{c.name}",
        "version": c.version,
        "description": f"lnn-edge model {c.name}: {c.description} ({c.precision})",
        "keywords": ["lnn-edge", "liquid neural network", c.precision],
        "frameworks": "*",
        "platforms": "*",
        "build": {"srcDir": ".", "includeDir": ".", "srcFilter": ["-<*>", f"+<{c.name}.c>"], "flags": list(c.fp_flags)},
    }
    return json.dumps(manifest, indent=2) + "\n"


def arduino_files(c: PackageContext, sources: dict[str, str]) -> dict[str, str]:
    """An Arduino library (1.5 format): ``library.properties``, a copy of the model's C in ``src/`` (Arduino
    compiles only ``src/`` when it exists, so example_main.c at the root stays out) and an example sketch."""
    env = environment()
    files = {"library.properties": env.get_template("library.properties.j2").render(c=c)}
    for path in (f"{c.name}.c", f"{c.name}.h", *c.runtime_headers):
        files[f"src/{path}"] = sources[path]
    files[f"examples/{c.name}_step/{c.name}_step.ino"] = env.get_template("arduino_example.ino.j2").render(c=c)
    return files
