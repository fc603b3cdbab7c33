"""lnn_div_recip (lnn/lnn_fixed.h): division through a reciprocal, for cores without a divide instruction, must give
C's quotient exactly: compiled on the host and compared with integer division over edge cases and random draws
(the quotient estimate may fall short by up to 3, so divisors and numerators near every boundary are included)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from codegen_helpers import runtime_shim

SHIM = """
#include <stdint.h>
#include "lnn/lnn_fixed.h"

void divide(const int32_t *n, const uint32_t *d, int32_t *q, int count)
{
    int i;
    for (i = 0; i < count; i++) {
        q[i] = lnn_div_recip(n[i], d[i], lnn_recip32(d[i]));
    }
}
"""


def test_reciprocal_division_equals_c_division(tmp_path: Path) -> None:
    library_handle = runtime_shim(tmp_path, SHIM, ["-Wextra", "-fsanitize=undefined", "-fno-sanitize-recover=all"])
    rng = np.random.default_rng(0)
    limit = (1 << 31) - 1
    edge_d = [1, 2, 3, 4, 5, 7, 255, 256, 257, 65535, 65536, 65537, 1 << 20, (1 << 30) - 1, 1 << 30, (1 << 31) - 1]
    edge_n = [0, 1, -1, 2, -2, limit, -limit, limit - 1, -(limit - 1), 1 << 30, -(1 << 30), 65535, -65536]
    d = np.concatenate(
        [
            np.repeat(edge_d, len(edge_n)),
            rng.integers(1, 1 << 16, 200_000),
            rng.integers(1, 1 << 31, 100_000),
            np.exp2(rng.uniform(0, 31, 100_000)).astype(np.int64).clip(1, limit),
        ]
    )
    n = np.concatenate(
        [
            np.tile(edge_n, len(edge_d)),
            rng.integers(-limit, limit + 1, 400_000),
        ]
    )
    # numerators that are exact multiples of d, and one below/above them (where a short estimate shows)
    multiples = (n[-100_000:] // np.maximum(d[-100_000:], 1)) * d[-100_000:] + rng.integers(-1, 2, 100_000)
    n[-100_000:] = np.clip(multiples, -limit, limit)
    n32, d32 = n.astype(np.int32), d.astype(np.uint32)
    q = np.empty_like(n32)
    library_handle.divide(
        n32.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
        d32.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)),
        q.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
        len(n32),
    )
    expected = np.sign(n) * (np.abs(n) // d)  # C's division truncates toward zero
    mismatch = np.nonzero(q != expected)[0]
    assert mismatch.size == 0, f"n={n[mismatch[0]]} d={d[mismatch[0]]}: {q[mismatch[0]]} != {expected[mismatch[0]]}"
