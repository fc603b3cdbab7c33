"""Render a quantized model into C sources: ``<name>.h``, ``<name>.c``, and the runtime library ``lnn/*.h``.

The cell-specific modules (:mod:`lnn_edge.cells.ltc.codegen`, :mod:`lnn_edge.cells.cfc.codegen`) compute the layouts
and literals; the Jinja templates in ``templates/`` only say what the C looks like.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from lnn_edge import __version__, cells
from lnn_edge.atomic import SUBDIR as RUNTIME_DIR
from lnn_edge.codegen.c_literals import c_float, c_int
from lnn_edge.codegen.header import CellCode, HeaderContext, Memory
from lnn_edge.errors import LnnEdgeError
from lnn_edge.quant.qmodel import QuantizedModel
from lnn_edge.resources import data_dir

C_KEYWORDS = set(
    [
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "_Bool",
        "_Complex",
        "_Imaginary",
    ]
)


def check_name(name: str) -> str:
    """A C prefix: lowercase letters, digits and underscores, not starting with a digit, not a keyword."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", name):
        raise LnnEdgeError(
            f"--name {name!r} is not a usable C prefix: use lowercase letters, digits and '_' (e.g. 'pendulum')"
        )
    if name in C_KEYWORDS or keyword.iskeyword(name):
        raise LnnEdgeError(f"--name {name!r} is a C or Python keyword: choose another prefix (e.g. 'pendulum')")
    clash = _reserved_clash(name)
    if clash is not None:
        raise LnnEdgeError(f"--name {name!r} clashes with lnn-edge's own {clash}: the model's files and symbols "
                           "(<name>.h, <name>_step, <NAME>_STATE_SIZE...) would collide with it; choose another prefix "
                           "(e.g. 'pendulum')")  # fmt: skip
    return name


@functools.cache
def _runtime_identifiers() -> tuple[frozenset[str], frozenset[str]]:
    """The runtime's and the firmware's header stems and their lnn_/LNN_ identifiers, which share a folder and
    a link with every model."""
    texts = dict(runtime_files())
    texts.update({path.as_posix(): path.read_text() for path in (data_dir() / "firmware").rglob("*.[ch]")})
    stems = frozenset(Path(path).stem for path in texts)
    names = frozenset(found for text in texts.values() for found in re.findall(r"\b(?:lnn|LNN)_\w+", text))
    return stems, names


def _reserved_clash(name: str) -> str | None:
    """What a model prefix would collide with: a runtime or firmware file (lnn/lnn.h, lnn_status.h) or
    identifier (a model 'lnn_ltc' would define LNN_LTC_STATE_SIZE, which the LTC kernel also uses)."""
    stems, names = _runtime_identifiers()
    if name == "lnn":
        return "runtime folder lnn/ and its lnn_ prefix"
    if name in stems:
        return f"header {name}.h"
    for prefix in (name + "_", name.upper() + "_"):
        found = sorted(n for n in names if n.startswith(prefix))
        if found:
            return f"identifier {found[0]}"
    return None


def environment() -> jinja2.Environment:
    """The Jinja environment over ``templates/`` (undefined variables are errors, not empty strings)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir() / "templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
        autoescape=False,
    )


@dataclass
class CSource:
    """The rendered files of one model, with the contexts they were rendered from."""

    files: dict[str, str]
    header: HeaderContext
    code: CellCode


def header_context(qmodel: QuantizedModel, name: str, dt_default: float) -> HeaderContext:
    """The fields shared by all cells (``h`` in every template): sizes, types, formats, hash, default time step."""
    model = qmodel.model
    cell = cells.get(model.cell)
    common: dict[str, Any] = {
        "name": name,
        "NAME": name.upper(),
        "version": __version__,
        "precision": qmodel.precision,
        "fixed": qmodel.is_fixed,
        "bits": qmodel.bits,
        "cell": model.cell,
        "description": (
            f"{cell.label} network, {model.input_size} inputs, {model.neurons} neurons, {model.output_size} outputs"
        ),
        "inputs": model.input_size,
        "outputs": model.output_size,
        "state_size": model.state_size,
        "model_hash": qmodel.quant_hash(),
    }
    if not qmodel.is_fixed:
        return HeaderContext(
            **common,
            value_type="float",
            time_type="float",
            acc_type="float",
            dt_default=c_float(dt_default),
            dt_default_doc=f"{dt_default:g}",
            dt_min_doc="",
            format_doc=("Inputs, outputs, state and elapsed time are float (IEEE single precision).",),
        )
    bits = qmodel.bits
    value_type = "int16_t" if bits == 16 else "int32_t"
    dt_frac = qmodel.formats["dt"]
    dt_q = _dt_to_q(dt_default, dt_frac, bits)
    return HeaderContext(
        **common,
        value_type=value_type,
        time_type=value_type,
        acc_type="int32_t" if bits == 16 else "int64_t",
        dt_default=c_int(dt_q, bits),
        dt_default_doc=f"{dt_default:g} s = {dt_q} in Q{dt_frac}",
        dt_min_doc=f"{int(qmodel.constants.get('dt_min_q', 0))} (Q{dt_frac})",
        format_doc=_format_doc(qmodel),
        state_frac=qmodel.formats[cell.state_format],
        dt_frac=dt_frac,
        dt_default_q=dt_q,
        x_frac=", ".join(str(int(v)) for v in qmodel.params["x_frac"]),
        y_frac=", ".join(str(int(v)) for v in qmodel.params["y_frac"]),
        q_max=str((1 << (bits - 1)) - 1),
        # Saturate exactly where round-half-away leaves the range: at +-32767.5 in Q15; in Q31 no float lies
        # between 2^31 - 128 and 2^31, so the float compares are at +-2^31.
        q_high_test="scaled >= 32767.5f" if bits == 16 else "scaled >= 2147483648.0f",
        q_low_test="scaled <= -32768.5f" if bits == 16 else "scaled < -2147483648.0f",
    )


def _dt_to_q(dt: float, frac: int, bits: int) -> int:
    """The default time step as ``<name>_to_q`` converts it (what the emulator sends for the same dt)."""
    from lnn_edge.quant.fixedpoint import float_to_q

    return int(float_to_q(dt, frac, bits)[0])


def _format_doc(qmodel: QuantizedModel) -> tuple[str, ...]:
    state = cells.get(qmodel.model.cell).state_format
    x_frac = ", ".join(str(int(v)) for v in qmodel.params["x_frac"])
    y_frac = ", ".join(str(int(v)) for v in qmodel.params["y_frac"])
    return (
        f"Inputs: input i in Q(input_frac[i]), fractional bits per input: {x_frac}.",
        f"Outputs: output k in Q(output_frac[k]), fractional bits per output: {y_frac}.",
        f"State: Q{qmodel.formats[state]}. Elapsed time: Q{qmodel.formats['dt']} (seconds * 2^{qmodel.formats['dt']}).",
    )


def render(qmodel: QuantizedModel, name: str, dt_default: float | None = None, fixed_dt: bool = True) -> CSource:
    """Render the C sources of ``qmodel`` with symbol prefix ``name``.

    ``dt_default`` is the elapsed time of ``<name>_step`` (the model's time step by default); with
    ``fixed_dt`` the per-step constants for that time step are precomputed.
    """
    check_name(name)
    header, code, template = _contexts(qmodel, name, dt_default, fixed_dt)
    env = environment()
    files = {f"{name}.c": env.get_template(template).render(h=header, c=code.c)}
    files[f"{name}.h"] = env.get_template("model.h.j2").render(h=header, code=code)
    files["example_main.c"] = env.get_template("example_main.c.j2").render(h=header)
    files.update(runtime_files())
    return CSource(files=files, header=header, code=code)


def memory(qmodel: QuantizedModel, dt_default: float | None = None, fixed_dt: bool = True) -> Memory:
    """The export's memory figures (:class:`~lnn_edge.codegen.header.Memory`), without rendering it: the one
    accounting that the header, the manifest and quantization.json all print."""
    return _contexts(qmodel, "model", dt_default, fixed_dt)[1].memory


def _contexts(
    qmodel: QuantizedModel, name: str, dt_default: float | None, fixed_dt: bool
) -> tuple[HeaderContext, CellCode, str]:
    """The header context, the cell's code context and the cell's step template."""
    dt = float(qmodel.model.dt if dt_default is None else dt_default)
    header = header_context(qmodel, name, dt)
    cell = cells.get(qmodel.model.cell)
    return header, cell.codegen(qmodel, header, fixed_dt), cell.template(qmodel.is_fixed)


def runtime_files() -> dict[str, str]:
    """The hand-written runtime library (``lnn_edge/runtime/*.h``), as export paths ``lnn/<file>`` -> text.

    Copied byte for byte into every export, whatever the model: one ``lnn/`` serves every model of a firmware.
    """
    folder = Path(__file__).resolve().parents[1] / "runtime"  # lnn_edge/runtime, beside this package
    return {f"{RUNTIME_DIR}/{path.name}": path.read_text() for path in sorted(folder.glob("*.h"))}
