"""Integer primitives with C's exact semantics, vectorized over NumPy int64 arrays.

These are the reference kernels of the fixed-point code: the generated C (``templates/``) implements each
one in plain C99 and must return the same bits. Conventions (documented in ``docs/number-formats.md``):

* A value in format Q``f`` is the integer ``round(real * 2**f)``; ``f`` is the number of fractional bits.
* ``B`` is the storage width (16 for ``fixed16``, 32 for ``fixed32``), ``W = 2B`` the accumulator width.
* Right shifts of negative numbers are arithmetic (floor), as GCC does on every target.
* :func:`rshift_round` rounds half up: ``(x + 2**(s-1)) >> s``.
* :func:`div_round` rounds half away from zero; the divisor is always positive; C's ``/`` truncates.
* :func:`saturate` clamps to the signed range of ``bits``.

All functions take and return ``np.int64`` arrays. W=64 arithmetic stays exact in int64 because the
quantizer proves every product and sum fits (``lnn_edge.quant.quantize``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
IntLike = np.ndarray | np.integer | int
"""What the integer operations accept: an array, a NumPy integer scalar or an int (viewed as int64)."""


def as_int(x: IntLike) -> Array:
    """View ``x`` as an int64 array (no rounding: the value must already be integral)."""
    return np.asarray(x, dtype=np.int64)


def int_limits(bits: int) -> tuple[int, int]:
    """(min, max) of a signed two's-complement integer of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def saturate(x: Array, bits: int) -> Array:
    """Clamp to the signed range of ``bits`` bits (C: ``x < MIN ? MIN : x > MAX ? MAX : x``)."""
    low, high = int_limits(bits)
    return np.clip(as_int(x), low, high)


def rshift_round(x: IntLike, shift: int) -> Array:
    """Arithmetic right shift by ``shift`` >= 0 with round-half-up; a negative shift is a left shift."""
    x = as_int(x)
    if shift > 0:
        return (x + (1 << (shift - 1))) >> shift
    if shift < 0:
        return x << (-shift)
    return x


def rshift_round_columns(x: Array, shifts: Array) -> Array:
    """:func:`rshift_round` with one shift per last-axis column (per-feature formats)."""
    out = np.empty_like(as_int(x))
    for column, shift in enumerate(np.asarray(shifts, dtype=np.int64)):
        out[..., column] = rshift_round(x[..., column], int(shift))
    return out


def div_trunc(num: IntLike, den: IntLike) -> Array:
    """C's integer division: the quotient truncated toward zero (den != 0)."""
    num, den = as_int(num), as_int(den)
    quotient = np.abs(num) // np.abs(den)
    return np.where((num < 0) != (den < 0), -quotient, quotient)


def div_round(num: IntLike, den: IntLike) -> Array:
    """``num / den`` rounded half away from zero, for ``den > 0``: ``(num +- den/2) / den`` in C."""
    num, den = as_int(num), as_int(den)
    half = den >> 1
    return div_trunc(np.where(num >= 0, num + half, num - half), den)


def quantize_value(real: Array | float, frac_bits: int, bits: int) -> Array:
    """``round(real * 2**frac_bits)`` (half away from zero), saturated to ``bits``: how constants are made."""
    scaled = np.asarray(real, dtype=np.float64) * math.ldexp(1.0, frac_bits)
    rounded = np.where(scaled >= 0, np.floor(scaled + 0.5), np.ceil(scaled - 0.5))
    low, high = int_limits(bits)
    # Clip in float before the cast; above 53 bits float64 cannot hold ``high``: take the float just below 2^63.
    top = float(high) if bits <= 53 else math.nextafter(math.ldexp(1.0, bits - 1), 0.0)
    return np.clip(rounded, low, top).astype(np.int64)


def float_to_q(real: Array | float, frac_bits: Array | int, bits: int) -> tuple[Array, Array]:
    """The generated C's ``<name>_to_q`` (templates/model.h.j2), bit for bit: the value as a C ``float``,
    times ``2**frac_bits``, rounded half away from zero, saturated to ``bits`` before any integer conversion
    (NaN gives 0). Returns the integers and where they saturated.

    Every finite or infinite input is covered: float64 holds each float32 value, and its product with a power
    of two, exactly (a product too small for float32 rounds to 0 in both), so this is the C's arithmetic.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        single = np.asarray(real, dtype=np.float64).astype(np.float32)  # the C takes a float
    scaled = single.astype(np.float64) * np.exp2(np.asarray(frac_bits, dtype=np.float64))
    rounded = np.where(scaled >= 0, np.floor(scaled + 0.5), np.ceil(scaled - 0.5))
    low, high = int_limits(bits)
    saturated = (rounded > high) | (rounded < low)
    return np.clip(np.nan_to_num(rounded, nan=0.0), low, high).astype(np.int64), saturated


@dataclass(frozen=True)
class SampledTable:
    """What every interpolated table shares: ``values``, the samples of a function at the ends of
    ``2**index_bits`` equal segments of a span of ``2**span_log2`` (or twice that), inputs in Q``in_frac``,
    samples in Q``out_frac``. The subclasses differ in how an input becomes a segment and a position."""

    name: str
    values: tuple[int, ...]
    in_frac: int
    out_frac: int
    span_log2: int
    index_bits: int

    def interpolate(self, index: Array, position: Array, frac_shift: int, round_half_up: bool = True) -> Array:
        """``T[i] + ((T[i+1] - T[i]) * r) / 2**frac_shift``, rounded half up or down (as the C does)."""
        table = np.asarray(self.values, dtype=np.int64)
        low, high = table[index], table[index + 1]
        step = (high - low) * position
        return low + (rshift_round(step, frac_shift) if round_half_up else step >> frac_shift)


@dataclass(frozen=True)
class InterpTable(SampledTable):
    """A function on [0, span) sampled at ``2**index_bits`` equal segments, linearly interpolated.

    Input: a non-negative integer ``a`` in Q``in_frac``. Segment ``i = a >> frac_shift`` and the position
    inside it ``r = a & (2**frac_shift - 1)``; result ``T[i] + rshift_round((T[i+1] - T[i]) * r, frac_shift)``
    in Q``out_frac``. Inputs at or beyond ``span`` give ``T[-1]``. The table holds ``2**index_bits + 1``
    unsigned entries of ``B`` bits.
    """

    @property
    def frac_shift(self) -> int:
        return self.in_frac + self.span_log2 - self.index_bits

    @property
    def limit(self) -> int:
        """The first input (in Q``in_frac``) that is past the table: ``span * 2**in_frac``."""
        return 1 << (self.in_frac + self.span_log2)

    def __call__(self, a: Array) -> Array:
        a = as_int(a)
        clamped = np.minimum(a, self.limit - 1)
        value = self.interpolate(clamped >> self.frac_shift, clamped & ((1 << self.frac_shift) - 1), self.frac_shift)
        return np.where(a >= self.limit, self.values[-1], value)


def make_table(
    name: str,
    function: Callable[[np.ndarray], np.ndarray],
    span_log2: int,
    index_bits: int,
    in_frac: int,
    out_frac: int,
) -> InterpTable:
    """Sample ``function`` on [0, 2**span_log2] at 2**index_bits + 1 points, rounded to Q``out_frac``."""
    if in_frac + span_log2 < index_bits:
        raise ValueError(f"table {name}: input format Q{in_frac} is too coarse for {2**index_bits} segments")
    points = np.arange((1 << index_bits) + 1, dtype=np.float64) * math.ldexp(1.0, span_log2 - index_bits)
    values = np.floor(function(points) * math.ldexp(1.0, out_frac) + 0.5).astype(np.int64)
    return InterpTable(name, tuple(int(v) for v in values), in_frac, out_frac, span_log2, index_bits)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_table(index_bits: int, in_frac: int, out_frac: int) -> InterpTable:
    """sigmoid on [0, 16): sigmoid(16) = 1 - 1.1e-7, beyond it the table's last entry."""
    return make_table("sigmoid", _sigmoid, 4, index_bits, in_frac, out_frac)


def exp_neg_table(index_bits: int, in_frac: int, out_frac: int) -> InterpTable:
    """exp(-u) on [0, 1): the fractional part of ``u``; whole units use :func:`exp_neg_int_factors`."""
    return make_table("exp_neg", lambda u: np.exp(-u), 0, index_bits, in_frac, out_frac)


def exp_neg_int_factors(out_frac: int, count: int = 17) -> tuple[int, ...]:
    """exp(-n) for n = 0 .. count-1 in Q``out_frac`` (rounded)."""
    return tuple(math.floor(math.exp(-n) * (1 << out_frac) + 0.5) for n in range(count))


def sigmoid_q(z: Array, table: InterpTable) -> Array:
    """sigmoid of ``z`` (Q``table.in_frac``) in Q``table.out_frac`` by symmetry: sigmoid(-z) = 1 - sigmoid(z)."""
    z = as_int(z)
    value = table(np.abs(z))
    return np.where(z >= 0, value, (1 << table.out_frac) - value)


def tanh_q(x: Array, table: InterpTable) -> Array:
    """tanh(x) = 2 sigmoid(2x) - 1; ``x`` in Q``table.in_frac + 1`` (so its integer read in Q``in_frac`` is 2x)."""
    return 2 * sigmoid_q(x, table) - (1 << table.out_frac)


def exp_neg_q(u: Array, table: InterpTable, factors: tuple[int, ...]) -> Array:
    """exp(-u) for ``u >= 0`` in Q``table.in_frac``; result in Q``table.out_frac``.

    u = n + f with whole part n and fraction f: exp(-u) = exp(-n) * exp(-f), the first from ``factors``
    (0 once n >= len(factors)), the second from the [0, 1) table; the product is rounded back.
    """
    u = as_int(u)
    whole = u >> table.in_frac
    fraction = u & ((1 << table.in_frac) - 1)
    in_range = whole < len(factors)
    factor = np.asarray(factors, dtype=np.int64)[np.where(in_range, whole, 0)]
    product = rshift_round(factor * table(fraction), table.out_frac)
    return np.where(in_range, product, 0)


# --- CfC: a full-range (signed-index) interpolated table ---------------------------------------------------


@dataclass(frozen=True)
class CfcTable(SampledTable):
    """An odd function on [-2**span_log2, 2**span_log2) sampled at equal segments, linearly interpolated, read
    with a signed input: the CfC's tanh.

    Input: any integer ``a`` in Q``in_frac``; it is first saturated to ``n = in_frac + span_log2 + 1`` bits
    (so the table clamps past its span: one SSAT on ARMv7-M).

    * Full (``mirrored`` False): the table covers [-span, span] with ``2**index_bits`` segments and is addressed
      directly by the signed value, no abs, no mirroring: segment ``i = (t >> fs) + 2**(index_bits - 1)``
      (``fs = n - index_bits``), position ``r = t & (2**fs - 1)``, result
      ``T[i] + rshift_round((T[i+1] - T[i]) * r, fs)`` in Q``out_frac``. ``T[0]`` is the value at -span.
    * Mirrored: the table covers [0, span] with ``2**index_bits`` segments; ``t`` is saturated symmetrically to
      ``+-(2**(n-1) - 1)``, looked up as above by ``m = abs(t)`` (``i = m >> fs``, ``fs = n - 1 - index_bits``)
      and negated for ``t < 0``: exactly odd, half the table for the same resolution.

    The table holds ``2**index_bits + 1`` signed entries.
    """

    mirrored: bool = False

    @property
    def in_bits(self) -> int:
        """Width ``n`` the input is saturated to."""
        return self.in_frac + self.span_log2 + 1

    @property
    def frac_shift(self) -> int:
        return self.in_bits - self.index_bits - (1 if self.mirrored else 0)

    def __call__(self, a: Array) -> Array:
        fs = self.frac_shift
        if self.mirrored:
            top = (1 << (self.in_bits - 1)) - 1
            t = np.clip(as_int(a), -top, top)
            m = np.abs(t)
            value = self.interpolate(m >> fs, m & ((1 << fs) - 1), fs)
            return np.where(t < 0, -value, value)
        t = saturate(as_int(a), self.in_bits)
        return self.interpolate((t >> fs) + (1 << (self.index_bits - 1)), t & ((1 << fs) - 1), fs)


def cfc_tanh_values(index_bits: int, out_frac: int, span_log2: int = 3, mirrored: bool = False) -> tuple[int, ...]:
    """Samples of tanh for :class:`CfcTable`: on [-2**span_log2, 2**span_log2], or on [0, 2**span_log2] when
    ``mirrored``, ``2**index_bits + 1`` of them, in Q``out_frac``.

    Each sample is tanh(x_i) - tanh''(x_i) h**2 / 16 (h the segment width), rounded: that moves the chords
    half way across the curve, halving the worst interpolation error (|tanh''| h**2 / 16 instead of / 8).
    Samples are clamped to +-(2**out_frac - 1): every result fits ``out_frac + 1`` signed bits, and the full
    table is odd (``T[2**index_bits - i] = -T[i]``).
    """
    count = 1 << index_bits
    start = 0.0 if mirrored else -math.ldexp(1.0, span_log2)
    width = math.ldexp(1.0, span_log2 + (0 if mirrored else 1) - index_bits)
    x = start + width * np.arange(count + 1, dtype=np.float64)
    value = np.tanh(x)
    value = value + 2.0 * value * (1.0 - value * value) * width * width / 16.0
    one = 1 << out_frac
    scaled = value * one
    rounded = np.where(scaled >= 0, np.floor(scaled + 0.5), np.ceil(scaled - 0.5))
    return tuple(int(v) for v in np.clip(rounded, -(one - 1), one - 1))


def cfc_tanh_table(
    index_bits: int, in_frac: int, out_frac: int, span_log2: int = 3, mirrored: bool = False
) -> CfcTable:
    """tanh on [-8, 8) (``span_log2`` 3) for inputs in Q``in_frac`` (see :class:`CfcTable`)."""
    if in_frac + span_log2 + (0 if mirrored else 1) < index_bits + 1:
        raise ValueError(f"cfc tanh table: input format Q{in_frac} is too coarse for {2**index_bits} segments")
    values = cfc_tanh_values(index_bits, out_frac, span_log2, mirrored)
    return CfcTable("cfc_tanh", values, in_frac, out_frac, span_log2, index_bits, mirrored)


# --- LTC: a sigmoid table over [-16, 16) read at a clamped segment ----------------------------------------


@dataclass(frozen=True)
class ClampedTable(SampledTable):
    """A function on [-2**span_log2, 2**span_log2) sampled at ``2**index_bits`` equal segments, linearly
    interpolated, read at ANY integer position without saturating it first: the LTC's sigmoid.

    Input: an integer ``t``, the argument's distance from ``-2**span_log2`` in Q``in_frac`` (``t = 0`` is
    ``-2**span_log2``, ``t = 2**(in_frac + span_log2)`` is 0). Segment
    ``i = clamp(t >> fs, 0, 2**index_bits - 1)`` (one USAT on ARMv7-M), position ``r = t & (2**fs - 1)`` taken
    from ``t`` even where ``i`` was clamped, result ``T[i] + (((T[i+1] - T[i]) * r) >> fs)`` (the
    interpolation rounds down: at most one LSB below the chord), ``fs = in_frac + span_log2 + 1 - index_bits``.
    The end segments are flat (``T[0] == T[1]``, ``T[-2] == T[-1]``), so a clamped segment gives its end
    sample whatever ``r`` is: no fix-up. The C computes ``i`` and ``r`` straight from a wider ``p`` with
    ``t = p >> shift`` (:meth:`read`).
    """

    @property
    def frac_shift(self) -> int:
        return self.in_frac + self.span_log2 + 1 - self.index_bits

    @property
    def offset(self) -> int:
        """The position of argument 0: ``2**(in_frac + span_log2)``."""
        return 1 << (self.in_frac + self.span_log2)

    def __call__(self, t: Array) -> Array:
        t = as_int(t)
        index = np.clip(t >> self.frac_shift, 0, (1 << self.index_bits) - 1)
        position = t & ((1 << self.frac_shift) - 1)
        return self.interpolate(index, position, self.frac_shift, round_half_up=False)

    def read(self, p: Array, shift: int) -> Array:
        """The table at ``t = p >> shift`` (floor): segment ``clamp(p >> (shift + fs))``, position
        ``(p >> shift) & (2**fs - 1)``, as the C reads it."""
        return self(as_int(p) >> shift)


def sigmoid_clamped_values(index_bits: int, out_frac: int, span_log2: int = 4) -> tuple[int, ...]:
    """Samples of sigmoid on [-2**span_log2, 2**span_log2] for :class:`ClampedTable`, in Q``out_frac``.

    Each sample is sigmoid(x_i) - sigmoid''(x_i) h**2 / 16 (h the segment width), rounded half up: the chords
    move half way across the curve, which halves the worst interpolation error (h**2/16 max|sigmoid''|
    instead of h**2/8). Samples are clamped to [0, 2**out_frac - 1], so every result fits ``out_frac``
    unsigned bits (a sigmoid of B-1 fractional bits fits a signed B-bit integer: 16x16 multiplies), and
    the two end segments are made flat (``T[0] = T[1]``, ``T[n] = T[n-1]``; they differ from the curve by
    at most sigmoid(-2**span_log2 + h)). The samples never decrease.
    """
    count = 1 << index_bits
    width = math.ldexp(1.0, span_log2 + 1 - index_bits)
    x = -math.ldexp(1.0, span_log2) + width * np.arange(count + 1, dtype=np.float64)
    s = 1.0 / (1.0 + np.exp(-x))
    value = s - s * (1.0 - s) * (1.0 - 2.0 * s) * width * width / 16.0
    rounded = np.clip(np.floor(value * math.ldexp(1.0, out_frac) + 0.5), 0, (1 << out_frac) - 1).astype(np.int64)
    rounded[0], rounded[-1] = rounded[1], rounded[-2]
    return tuple(int(v) for v in rounded)


def sigmoid_clamped_table(index_bits: int, in_frac: int, out_frac: int, span_log2: int = 4) -> ClampedTable:
    """sigmoid on [-16, 16) (``span_log2`` 4) for positions in Q``in_frac`` (see :class:`ClampedTable`)."""
    if in_frac + span_log2 + 1 <= index_bits:
        raise ValueError(f"sigmoid table: input format Q{in_frac} is too coarse for {2**index_bits} segments")
    values = sigmoid_clamped_values(index_bits, out_frac, span_log2)
    return ClampedTable("sigmoid", values, in_frac, out_frac, span_log2, index_bits)


def div_round_fast(num: IntLike, den: IntLike) -> Array:
    """``num / den`` rounded to nearest the cheap way, for ``den >= 3``:
    ``(num + ((den >> 1) ^ (num >> (W-1)))) / den`` with C's truncating division (the XOR with the sign mask
    of ``num`` gives ``den/2`` for ``num >= 0`` and ``-den/2 - 1`` below: no branch, three instructions before
    the divide). For ``num >= 0`` it is round half up; below zero a remainder of ``den/2 - 1`` or more rounds
    away from zero. Error at most ``1/2 + 1/den``; for ``den >= 3`` the result is always ``floor(num/den)`` or
    ``ceil(num/den)`` (what keeps a rounded convex combination inside its hull).
    """
    num, den = as_int(num), as_int(den)
    sign = np.where(num < 0, -1, 0)
    return div_trunc(num + ((den >> 1) ^ sign), den)
