"""Float32 elementary functions without libm, in an operation order the generated C repeats exactly.

Every operation here is one IEEE-754 binary32 operation (+, -, *, /, a conversion, or a bit move), so
NumPy on the host and the C on any Cortex-M (hardware FPU or GCC's soft-float, both correctly rounded)
produce the same bits, provided the C is compiled without contraction (``-ffp-contract=off``) or
fast-math. The C versions live in ``templates/lnn_runtime_f32.h.j2``.

exp(-a) for a >= 0: t = a * log2(e); k = (int)t; r = t - k; 2**-r by a degree-6 polynomial (Horner) fitted
on Chebyshev nodes (max error 1e-7 over [0, 1)); 2**-k by building the float's exponent bits.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
Array = np.ndarray

LOG2E = F32(float.fromhex("0x1.715476p+0"))
EXP2_NEG_COEFFS = tuple(
    F32(float.fromhex(h))
    for h in (
        "0x1.0p+0",
        "-0x1.62e42cp-1",
        "0x1.ebfacp-3",
        "-0x1.c69522p-5",
        "0x1.39eb5ap-7",
        "-0x1.4e6bdep-10",
        "0x1.cacdf6p-14",
    )
)
"""2**-r ~= c0 + r (c1 + r (c2 + ... + r c6)), r in [0, 1)."""

EXP_CUTOFF = F32(126.0)
"""exp(-a) is flushed to 0 once a * log2(e) >= 126 (below the smallest normal float, 1.2e-38)."""

ONE, TWO, HALF = F32(1.0), F32(2.0), F32(0.5)


def f32(x: Array | float) -> Array:
    """``x`` as a float32 array."""
    return np.asarray(x, dtype=np.float32)


def exp_neg(a: Array) -> Array:
    """exp(-a) for a >= 0, in float32."""
    a = f32(a)
    t = a * LOG2E
    big = t >= EXP_CUTOFF
    t = np.where(big, F32(0.0), t)
    k = t.astype(np.int32)  # C: (int32_t)t, truncation; t >= 0
    r = t - k.astype(np.float32)
    p = np.full_like(r, EXP2_NEG_COEFFS[6])
    for c in EXP2_NEG_COEFFS[5::-1]:
        p = p * r + c
    scale = ((127 - k).astype(np.int32) << 23).view(np.float32)  # 2**-k, k in [0, 125]
    return np.where(big, F32(0.0), p * scale)


def sigmoid(z: Array) -> Array:
    """1 / (1 + exp(-|z|)), mirrored for negative z as e / (1 + e)."""
    z = f32(z)
    e = exp_neg(np.abs(z))
    s = ONE / (ONE + e)
    return np.where(z >= F32(0.0), s, e * s)


def tanh(x: Array) -> Array:
    """tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|)."""
    x = f32(x)
    e = exp_neg(TWO * np.abs(x))
    t = (ONE - e) / (ONE + e)
    return np.where(x >= F32(0.0), t, -t)


# Abramowitz & Stegun 7.1.26: erf(x) = 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p x); |error| <= 1.5e-7.
_ERF_P = F32(0.3275911)
_ERF_A = tuple(F32(v) for v in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_INV_SQRT2 = F32(0.70710678118654752)


def erf(x: Array) -> Array:
    """erf in float32 (A&S 7.1.26, Horner in t)."""
    x = f32(x)
    a = np.abs(x)
    t = ONE / (ONE + _ERF_P * a)
    poly = np.full_like(t, _ERF_A[4])
    for c in _ERF_A[3::-1]:
        poly = poly * t + c
    y = ONE - poly * t * exp_neg(a * a)
    return np.where(x >= F32(0.0), y, -y)


def gelu(x: Array) -> Array:
    """0.5 x (1 + erf(x / sqrt(2)))."""
    x = f32(x)
    return HALF * x * (ONE + erf(x * _INV_SQRT2))


LECUN_A, LECUN_B = F32(1.7159), F32(0.666)


def lecun_tanh(x: Array) -> Array:
    """1.7159 tanh(0.666 x)."""
    return LECUN_A * tanh(LECUN_B * f32(x))


def relu(x: Array) -> Array:
    x = f32(x)
    return np.where(x > F32(0.0), x, F32(0.0))


def silu(x: Array) -> Array:
    x = f32(x)
    return x * sigmoid(x)


ACTIVATIONS = {"lecun_tanh": lecun_tanh, "tanh": tanh, "relu": relu, "silu": silu, "gelu": gelu}
