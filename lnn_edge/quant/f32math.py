"""Float32 elementary functions without libm, in an operation order the generated C repeats exactly.

Every operation here is one IEEE-754 binary32 operation (+, -, *, /, a conversion, or a bit move), so
NumPy on the host and the C on any Cortex-M (hardware FPU or GCC's soft-float, both correctly rounded)
produce the same bits, provided the C is compiled without contraction (``-ffp-contract=off``) or
fast-math. The C versions live in ``lnn_edge/runtime/lnn_f32.h``.

exp(-a) for a >= 0: t = a * log2(e); k = (int)t; r = t - k; 2**-r by a degree-6 polynomial (Horner) fitted
on Chebyshev nodes (max error 1e-7 over [0, 1)); 2**-k by building the float's exponent bits.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
Array = np.ndarray
FloatLike = np.ndarray | np.floating | float
"""What the float32 operations accept: an array, a NumPy float scalar or a float (made float32)."""

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


def f32(x: FloatLike) -> Array:
    """``x`` as a float32 array."""
    return np.asarray(x, dtype=np.float32)


def exp_neg(a: Array) -> Array:
    """exp(-a) for a >= 0, in float32."""
    a = f32(a)
    t = a * LOG2E
    big = ~(t < EXP_CUTOFF)  # NaN too, as the C does (it never converts NaN to an integer)
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


# --- CfC: tanh as a rational function (no exp), and the gated update with one division -----------------------

CFC_TANH_CLAMP = F32(9.0)
"""tanh(9) = 1 - 3e-8 rounds to 1 in float32: inputs are clamped to [-9, 9] first, on the bit pattern: an
input whose magnitude bits exceed those of 9.0 (NaN included) becomes 9.0 with its sign."""
CFC_TANH_CLAMP_BITS = 0x41100000
CFC_TANH_P = tuple(
    F32(float.fromhex(h))
    for h in ("0x1.fffffcp-1", "0x1.11e21p-3", "0x1.c8fe36p-9", "0x1.5775bep-16", "0x1.c50182p-27")
)
CFC_TANH_Q = tuple(
    F32(float.fromhex(h)) for h in ("0x1.0p+0", "0x1.de4644p-2", "0x1.a76516p-6", "0x1.570782p-12", "0x1.9d8876p-21")
)
"""tanh(x) ~ x P(x^2) / Q(x^2) on [-9, 9] (P and Q of degree 4, fitted by iteratively reweighted least squares
on the linearized problem): max error 1.9e-8 in exact arithmetic, 3.3e-7 in float32 with the operation order
below."""


def cfc_tanh_parts(x: Array) -> tuple[Array, Array]:
    """Numerator and denominator of the CfC tanh: x clamped to [-9, 9] (see :data:`CFC_TANH_CLAMP`); x2 = x * x;
    P and Q by Horner from the highest coefficient (``p = p * x2 + c``); returns (x * P, Q).
    Q >= 1."""
    bits = f32(x).view(np.uint32)
    clamped = (bits & np.uint32(0x80000000)) | np.uint32(CFC_TANH_CLAMP_BITS)
    x = np.where((bits & np.uint32(0x7FFFFFFF)) > CFC_TANH_CLAMP_BITS, clamped, bits).view(np.float32)
    x2 = x * x
    p = np.full_like(x2, CFC_TANH_P[-1])
    for c in CFC_TANH_P[-2::-1]:
        p = p * x2 + c
    q = np.full_like(x2, CFC_TANH_Q[-1])
    for c in CFC_TANH_Q[-2::-1]:
        q = q * x2 + c
    return x * p, q


def cfc_tanh(x: Array) -> Array:
    """tanh(x) = numerator / denominator of :func:`cfc_tanh_parts` (one division)."""
    n, d = cfc_tanh_parts(x)
    return n / d


def cfc_gated_mix(f1: Array, f2: Array, u: Array) -> Array:
    """tanh(f1) (1 - g) + g tanh(f2) with g = sigmoid(u) = (1 + tanh(u / 2)) / 2, as ONE fraction:
    with (n1, d1), (n2, d2), (ng, dg) the parts of tanh(f1), tanh(f2), tanh(0.5 u):
    ``p12 = n1 * d2; p21 = n2 * d1; num = (p12 + p21) * dg + ng * (p21 - p12); den = ((d1 * d2) * dg) * 2``,
    result ``num / den``."""
    n1, d1 = cfc_tanh_parts(f1)
    n2, d2 = cfc_tanh_parts(f2)
    ng, dg = cfc_tanh_parts(HALF * f32(u))
    p12 = n1 * d2
    p21 = n2 * d1
    num = (p12 + p21) * dg + ng * (p21 - p12)
    den = ((d1 * d2) * dg) * TWO
    return num / den


def cfc_sigmoid(u: Array) -> Array:
    """sigmoid(u) = 0.5 + 0.5 tanh(0.5 u) with the CfC tanh."""
    return HALF + HALF * cfc_tanh(HALF * f32(u))


def cfc_lecun_tanh(x: Array) -> Array:
    """1.7159 tanh(0.666 x) with the CfC tanh."""
    return LECUN_A * cfc_tanh(LECUN_B * f32(x))


def cfc_silu(x: Array) -> Array:
    """x sigmoid(x) = h + h tanh(h), h = 0.5 x, with the CfC tanh."""
    h = HALF * f32(x)
    return h + h * cfc_tanh(h)


CFC_ACTIVATIONS = {"lecun_tanh": cfc_lecun_tanh, "tanh": cfc_tanh, "relu": relu, "silu": cfc_silu, "gelu": gelu}
"""Backbone activations of the float32 CfC step (tanh-based ones use :func:`cfc_tanh`)."""


# --- LTC: 2**t from a table of 2**(j/256) and one linear correction, branch-free on the common path --------

EXP2_TABLE_BITS = 8
"""2**t = 2**k * 2**(j/256) * 2**r with n = round(t * 256) = 256 k + j and |r| <= 1/512."""
EXP2_SHIFT = 23 - EXP2_TABLE_BITS
EXP2_MAGIC = F32(1.5 * 2.0**EXP2_SHIFT)
"""t + MAGIC rounds t to a multiple of 2**-8 (for |t| < 2**14): its low mantissa bits are n."""
EXP2_MAGIC_BITS = int(np.array(EXP2_MAGIC, dtype=np.float32).view(np.int32))
EXP2_CLAMP = F32(125.0)
EXP2_LIMIT = 125 << EXP2_TABLE_BITS
"""|n| beyond this (|t| > 125 + 2**-9, or NaN): t is clamped to +-125 first, so every result is a normal float
(2**-125 (1 - 2**-9 ln 2) > 2**-126): no subnormal arithmetic, whose speed and flushing vary between FPUs."""
EXP2_TABLE = tuple(
    int(np.array(2.0 ** (j / (1 << EXP2_TABLE_BITS)), dtype=np.float32).view(np.uint32)) - (j << EXP2_SHIFT)
    for j in range(1 << EXP2_TABLE_BITS)
)
"""bits(2**(j/256)) - (j << 15): adding (bits(t + MAGIC) << 15) (mod 2**32) gives bits(2**k * 2**(j/256))."""
EXP2_C0, EXP2_C1 = F32(1.0000008), F32(0.69314736)
"""2**r ~= C0 + C1 r on |r| <= 1/512 (max relative error 9e-7, rounding included)."""


def exp2_fast(t: FloatLike) -> Array:
    """2**t in float32 for any float32 t: |t| <= 125 directly, beyond (or NaN) as 2**(+-125).

    y = t + MAGIC; n = bits(y) - bits(MAGIC); if |n| > 125 * 256: t = (t < 0 ? -125 : 125) and y again;
    r = t - (y - MAGIC); scale = float(TABLE[bits(y) & 255] + (bits(y) << 15)); result scale * (C0 + C1 r).
    Max relative error 9e-7 against 2**t (tests/test_fixedpoint.py checks it densely over [-125, 125]).
    """
    t = f32(t)
    with np.errstate(invalid="ignore", over="ignore"):
        y = t + EXP2_MAGIC
        n = y.view(np.int32).astype(np.int64) - EXP2_MAGIC_BITS
        clamp = ~((n >= -EXP2_LIMIT) & (n <= EXP2_LIMIT))
        t = np.where(clamp, np.where(t < F32(0.0), -EXP2_CLAMP, EXP2_CLAMP), t).astype(np.float32)
        y = (t + EXP2_MAGIC).astype(np.float32)
        r = t - (y - EXP2_MAGIC)
        bits = y.view(np.uint32).astype(np.uint64)
        table = np.asarray(EXP2_TABLE, dtype=np.uint64)
        scale = ((table[bits & ((1 << EXP2_TABLE_BITS) - 1)] + (bits << EXP2_SHIFT)) & 0xFFFFFFFF).astype(np.uint32)
        return scale.view(np.float32) * (EXP2_C0 + EXP2_C1 * r)


def conductance_fast(w: FloatLike, t: FloatLike) -> Array:
    """w * sigmoid(z) as w / (1 + 2**t) with t = -z log2(e): one division, no symmetry handling (2**t is
    finite for every t, so 1 + 2**t >= 1)."""
    return f32(w) / (ONE + exp2_fast(t))
