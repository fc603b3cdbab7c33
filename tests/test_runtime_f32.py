"""The runtime library's float32 constants (lnn/lnn_f32.h, hand-written hex-float literals) equal
lnn_edge.quant.f32math's values bit for bit: Python stays the source of truth, and this test checks the copy."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import numpy as np
from codegen_helpers import runtime_shim

from lnn_edge.codegen.render import runtime_files
from lnn_edge.quant import f32math

EXPECTED = {
    "LNN_F32_LOG2E": f32math.LOG2E,
    "LNN_F32_EXP_CUTOFF": f32math.EXP_CUTOFF,
    **{f"LNN_F32_EXP2_NEG_C{k}": c for k, c in enumerate(f32math.EXP2_NEG_COEFFS)},
    "LNN_F32_LECUN_A": f32math.LECUN_A,
    "LNN_F32_LECUN_B": f32math.LECUN_B,
    "LNN_F32_ERF_P": f32math._ERF_P,
    **{f"LNN_F32_ERF_A{k + 1}": a for k, a in enumerate(f32math._ERF_A)},
    "LNN_F32_INV_SQRT2": f32math._INV_SQRT2,
}


EXP2 = {
    "LNN_F32_EXP2_MAGIC": f32math.EXP2_MAGIC,
    "LNN_F32_EXP2_CLAMP": f32math.EXP2_CLAMP,
    "LNN_F32_EXP2_C0": f32math.EXP2_C0,
    "LNN_F32_EXP2_C1": f32math.EXP2_C1,
}
EXP2_INTEGERS = {
    "LNN_F32_EXP2_LOW": f32math.EXP2_MAGIC_BITS - f32math.EXP2_LIMIT,
    "LNN_F32_EXP2_SPAN": 2 * f32math.EXP2_LIMIT,
    "LNN_F32_EXP2_MASK": len(f32math.EXP2_TABLE) - 1,
    "LNN_F32_EXP2_SHIFT": f32math.EXP2_SHIFT,
}


def _bits(value: float | np.floating) -> int:
    return int(np.array(value, dtype=np.float32).view(np.uint32))


def test_every_f32_constant_is_listed() -> None:
    header = runtime_files()["lnn/lnn_f32.h"]
    assert set(re.findall(r"#define (LNN_F32_[A-Z0-9_]+) ", header)) == set(EXPECTED)


def test_f32_literals_equal_f32math_bit_for_bit(tmp_path: Path) -> None:
    names = sorted(EXPECTED)
    body = "\n".join(f"    out[{k}] = {name};" for k, name in enumerate(names))
    shim = f'#include "lnn/lnn_f32.h"\nvoid constants(float *out)\n{{\n{body}\n}}\n'
    library = runtime_shim(tmp_path, shim, ["-pedantic", "-Wdouble-promotion"])
    out = (ctypes.c_float * len(names))()
    library.constants(out)
    for k, name in enumerate(names):
        assert _bits(out[k]) == _bits(EXPECTED[name]), name


def test_ltc_exp2_constants_and_table_equal_f32math(tmp_path: Path) -> None:
    """lnn/lnn_ltc_f32.h's 2^t constants and its 256-entry table (hex literals) are lnn_edge.quant.f32math's."""
    floats, integers = sorted(EXP2), sorted(EXP2_INTEGERS)
    body = "\n".join(f"    f[{k}] = {name};" for k, name in enumerate(floats))
    body += "\n" + "\n".join(f"    u[{k}] = (uint32_t)({name});" for k, name in enumerate(integers))
    defines = "#define LNN_LTC_WIRED_SHIFT 8\n#define LNN_LTC_INDEX_T uint8_t\n#define LNN_LTC_WIRED_T uint16_t\n"
    defines += "#define LNN_LTC_EPS 1e-8f\n#define LNN_LTC_N_WIRED 1\n#define LNN_LTC_UNFOLDS 6\n"
    defines += "".join(f"#define LNN_LTC_{key} 1\n" for key in ("N_NEURONS", "STATE_SIZE", "N_WIRED_ALLOC", "N_LEAF_ALLOC",
                       "S_NNZ_ALLOC", "NNZ_ALLOC", "N_OUTPUTS"))  # fmt: skip
    shim = (
        f'{defines}#include "lnn/lnn_ltc_f32.h"\n'
        f"void constants(float *f, uint32_t *u, uint32_t *table)\n{{\n    int i;\n{body}\n"
        "    for (i = 0; i < 256; i++) {\n        table[i] = lnn_ltc_f32_exp2_table[i];\n    }\n}\n"
    )
    library = runtime_shim(tmp_path, shim, ["-pedantic", "-Wdouble-promotion", "-DLNN_NO_ASM"])
    f, u, table = (ctypes.c_float * len(floats))(), (ctypes.c_uint32 * len(integers))(), (ctypes.c_uint32 * 256)()
    library.constants(f, u, table)
    for k, name in enumerate(floats):
        assert _bits(f[k]) == _bits(EXP2[name]), name
    for k, name in enumerate(integers):
        assert u[k] == EXP2_INTEGERS[name], name
    assert list(table) == list(f32math.EXP2_TABLE)
