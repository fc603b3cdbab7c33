"""Render a quantized model into C sources: ``<name>.h``, ``<name>.c``, and the runtime library ``lnn/*.h``.

The cell-specific modules (:mod:`lnn_edge.cells.ltc.codegen`, :mod:`lnn_edge.cells.cfc.codegen`) compute the layouts
and literals; the Jinja templates in ``templates/`` only say what the C looks like.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from lnn_edge import __version__, cells
from lnn_edge.atomic import SUBDIR as RUNTIME_DIR
from lnn_edge.codegen.c_literals import c_float, c_int
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
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", name) or name in C_KEYWORDS or keyword.iskeyword(name):
        raise LnnEdgeError(
            f"--name {name!r} is not a usable C prefix: use lowercase letters, digits and '_' (e.g. 'pendulum')"
        )
    return name


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
    """The rendered files of one model."""

    files: dict[str, str]
    context: dict[str, Any]


def common_context(qmodel: QuantizedModel, name: str, dt_default: float) -> dict[str, Any]:
    """Header fields shared by all cells: sizes, types, formats, hash, default time step."""
    model = qmodel.model
    fixed = qmodel.is_fixed
    bits = qmodel.bits
    context: dict[str, Any] = {
        "name": name,
        "NAME": name.upper(),
        "version": __version__,
        "precision": qmodel.precision,
        "fixed": fixed,
        "bits": bits,
        "cell": model.cell,
        "inputs": model.input_size,
        "outputs": model.output_size,
        "state_size": model.state_size,
        "model_hash": qmodel.quant_hash(),
    }
    cell = cells.get(model.cell)
    context["description"] = (
        f"{cell.label} network, {model.input_size} inputs, {model.state_size} neurons, {model.output_size} outputs"
    )
    if fixed:
        value_type = "int16_t" if bits == 16 else "int32_t"
        dt_frac = qmodel.formats["dt"]
        dt_q = _dt_to_q(dt_default, dt_frac, bits)
        context.update(
            value_type=value_type,
            acc_type="int32_t" if bits == 16 else "int64_t",
            time_type=value_type,
            state_frac=qmodel.formats[cell.state_format],
            dt_frac=dt_frac,
            dt_default=c_int(dt_q, bits),
            dt_default_q=dt_q,
            dt_default_doc=f"{dt_default:g} s = {dt_q} in Q{dt_frac}",
            dt_min_doc=f"{int(qmodel.constants.get('dt_min_q', 0))} (Q{dt_frac})",
            rshift="lnn_rshift_round32" if bits == 16 else "lnn_rshift_round64",
            div="lnn_div_round32" if bits == 16 else "lnn_div_round64",
            sat="lnn_sat16" if bits == 16 else "lnn_sat32",
            table_type="uint16_t" if bits == 16 else "uint32_t",
            x_frac=", ".join(str(int(v)) for v in qmodel.params["x_frac"]),
            y_frac=", ".join(str(int(v)) for v in qmodel.params["y_frac"]),
            format_doc=_format_doc(qmodel),
            q_max=str((1 << (bits - 1)) - 1),
            # The first float at or beyond 2^(B-1): values from there on saturate.
            # Saturate exactly where round-half-away leaves the range: at +-32767.5 in Q15; in Q31 no float lies
            # between 2^31 - 128 and 2^31, so the float compares are at +-2^31.
            q_high_test="scaled >= 32767.5f" if bits == 16 else "scaled >= 2147483648.0f",
            q_low_test="scaled <= -32768.5f" if bits == 16 else "scaled < -2147483648.0f",
        )
    else:
        context.update(
            value_type="float",
            time_type="float",
            dt_default=c_float(dt_default),
            dt_default_doc=f"{dt_default:g}",
            dt_min_doc="",
            format_doc=["Inputs, outputs, state and elapsed time are float (IEEE single precision)."],
        )
    return context


def _dt_to_q(dt: float, frac: int, bits: int) -> int:
    """The default time step as ``<name>_to_q`` converts it (what the emulator sends for the same dt)."""
    from lnn_edge.quant.fixedpoint import float_to_q

    return int(float_to_q(dt, frac, bits)[0])


def _format_doc(qmodel: QuantizedModel) -> list[str]:
    state = cells.get(qmodel.model.cell).state_format
    x_frac = ", ".join(str(int(v)) for v in qmodel.params["x_frac"])
    y_frac = ", ".join(str(int(v)) for v in qmodel.params["y_frac"])
    lines = [
        f"Inputs: input i in Q(input_frac[i]), fractional bits per input: {x_frac}.",
        f"Outputs: output k in Q(output_frac[k]), fractional bits per output: {y_frac}.",
        f"State: Q{qmodel.formats[state]}. Elapsed time: Q{qmodel.formats['dt']} (seconds * 2^{qmodel.formats['dt']}).",
    ]
    return lines


def render(qmodel: QuantizedModel, name: str, dt_default: float | None = None, fixed_dt: bool = True) -> CSource:
    """Render the C sources of ``qmodel`` with symbol prefix ``name``.

    ``dt_default`` is the elapsed time of ``<name>_step`` (the model's time step by default); with
    ``fixed_dt`` the per-step constants for that time step are precomputed.
    """
    check_name(name)
    context, template = _context(qmodel, name, dt_default, fixed_dt)
    env = environment()
    files = {f"{name}.c": env.get_template(template).render(**context)}
    files[f"{name}.h"] = env.get_template("model.h.j2").render(**context)
    files["example_main.c"] = env.get_template("example_main.c.j2").render(**context)
    files.update(runtime_files())
    return CSource(files=files, context=context)


def memory(qmodel: QuantizedModel, dt_default: float | None = None, fixed_dt: bool = True) -> dict[str, int]:
    """The export's memory figures, without rendering it: ``params`` (bytes of the ``static const`` objects its
    ``<name>.c`` compiles to, the runtime's tables included), ``state`` (the caller-owned state struct) and
    ``stack`` (arrays on the stack in a step). The one accounting that the header, the manifest and
    quantization.json all print."""
    context, _ = _context(qmodel, "model", dt_default, fixed_dt)
    return dict(context["memory"])


def _context(qmodel: QuantizedModel, name: str, dt_default: float | None, fixed_dt: bool) -> tuple[dict[str, Any], str]:
    """The templates' context and the cell's step template."""
    dt = float(qmodel.model.dt if dt_default is None else dt_default)
    context = common_context(qmodel, name, dt)
    cell = cells.get(qmodel.model.cell)
    context.update(cell.codegen_context(qmodel, context, fixed_dt))
    return context, cell.template(qmodel.is_fixed)


def runtime_files() -> dict[str, str]:
    """The hand-written runtime library (``lnn_edge/runtime/*.h``), as export paths ``lnn/<file>`` -> text.

    Copied byte for byte into every export, whatever the model: one ``lnn/`` serves every model of a firmware.
    """
    folder = Path(__file__).resolve().parents[1] / "runtime"  # lnn_edge/runtime, beside this package
    return {f"{RUNTIME_DIR}/{path.name}": path.read_text() for path in sorted(folder.glob("*.h"))}
