"""Integer primitives against exact references (Python integers and fractions), exhaustive over 16-bit
inputs, with the documented error bounds asserted."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnn_edge.quant.fixedpoint import (
    div_round,
    div_round_fast,
    div_trunc,
    exp_neg_int_factors,
    exp_neg_q,
    exp_neg_table,
    quantize_value,
    rshift_round,
    saturate,
    sigmoid_clamped_table,
    sigmoid_q,
    sigmoid_table,
    tanh_q,
)

INT16 = np.arange(-(1 << 15), 1 << 15, dtype=np.int64)


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _round_half_away(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2)) if value >= 0 else -math.floor(-value + Fraction(1, 2))


@pytest.mark.parametrize("shift", range(0, 17))
def test_rshift_round_exhaustive_int16(shift: int) -> None:
    got = rshift_round(INT16, shift)
    # floor(x / 2^s + 1/2) in exact integer arithmetic: (2x + 2^s) // 2^(s+1)
    expected = (2 * INT16 + (1 << shift)) // (1 << (shift + 1))
    assert np.array_equal(got, expected)


@given(st.integers(-(1 << 62), (1 << 62) - 1), st.integers(1, 40))
def test_rshift_round_wide(x: int, shift: int) -> None:
    assert int(rshift_round(np.int64(x), shift)) == _round_half_up(Fraction(x, 1 << shift))


def test_negative_shift_is_exact_left_shift() -> None:
    assert np.array_equal(rshift_round(INT16, -3), INT16 * 8)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_saturate(bits: int) -> None:
    values = np.array(
        [
            -(1 << 40),
            -(1 << (bits - 1)) - 1,
            -(1 << (bits - 1)),
            0,
            (1 << (bits - 1)) - 1,
            1 << (bits - 1),
            1 << 40,
        ]
    )
    expected = [max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, int(v))) for v in values]
    assert saturate(values, bits).tolist() == expected


@pytest.mark.slow
@pytest.mark.parametrize("den", [*range(1, 64), 255, 256, 1000, 12345, 32767, 32768, 65535])
def test_division_exhaustive_int16_numerators(den: int) -> None:
    num = INT16 * 3 + 7  # spans beyond int16 too
    trunc = div_trunc(num, np.int64(den))
    rounded = div_round(num, np.int64(den))
    expected_trunc = [int(Fraction(int(n), den)) for n in num[::97]]  # int() of a Fraction truncates
    assert trunc[::97].tolist() == expected_trunc
    exact = np.array([_round_half_away(Fraction(int(n), den)) for n in num[::13]])
    assert np.array_equal(rounded[::13], exact)
    assert np.all(np.abs(rounded * den - num) * 2 <= den)  # |q - num/den| <= 1/2 everywhere


@given(st.integers(-(1 << 62), (1 << 62) - 1), st.integers(1, (1 << 31) - 1))
def test_division_wide(num: int, den: int) -> None:
    assert int(div_trunc(np.int64(num), np.int64(den))) == int(Fraction(num, den))
    assert int(div_round(np.int64(num), np.int64(den))) == _round_half_away(Fraction(num, den))


def test_division_by_negative_truncates_like_c() -> None:
    assert div_trunc(np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2])).tolist() == [3, -3, -3, 3]


def test_quantize_value_rounds_half_away_and_saturates() -> None:
    assert quantize_value(np.array([0.5, -0.5, 1.5, -1.5, 0.49]), 0, 16).tolist() == [1, -1, 2, -2, 0]
    assert quantize_value(np.array([1e9, -1e9]), 4, 16).tolist() == [32767, -32768]


# --- tables: error bounds h^2/8 max|f''| + rounding -------------------------------------------------

SIGMOID_D2 = 0.0963  # max |sigmoid''| = 1/(6*sqrt(3)) = 0.09623


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _interp_bound(index_bits: int, span_log2: int, d2: float, out_frac: int) -> float:
    h = 2.0**span_log2 / (1 << index_bits)
    return h * h / 8 * d2 + 1.5 * 2.0**-out_frac


def test_sigmoid_fixed16_exhaustive() -> None:
    """Every Q11 input in [-16, 16): error <= h^2/8 * 0.0963 + 1.5 LSB = 9.3e-5 with 256 segments."""
    table = sigmoid_table(8, 11, 15)
    z = INT16  # Q11 covers [-16, 16)
    got = sigmoid_q(z, table) / 2.0**15
    error = np.abs(got - _sigmoid(z / 2.0**11))
    bound = _interp_bound(8, 4, SIGMOID_D2, 15)
    assert error.max() <= bound, (error.max(), bound)
    assert bound < 1e-4
    assert np.all(np.diff(got) >= 0)  # monotone: no glitches at segment edges


def test_sigmoid_saturates_beyond_table() -> None:
    table = sigmoid_table(8, 11, 15)
    far = np.array([16 << 11, 1 << 40, -(16 << 11), -(1 << 40)])
    assert sigmoid_q(far, table).tolist() == [table.values[-1]] * 2 + [32768 - table.values[-1]] * 2


def test_sigmoid_fixed32_sampled() -> None:
    """Q24 inputs; 1024 segments: error <= 2.9e-6 + 1.5 LSB."""
    table = sigmoid_table(10, 24, 31)
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.integers(-(20 << 24), 20 << 24, 400_000), np.arange(-(1 << 16), 1 << 16)])
    error = np.abs(sigmoid_q(z, table) / 2.0**31 - _sigmoid(z / 2.0**24))
    bound = _interp_bound(10, 4, SIGMOID_D2, 31) + 1.2e-7  # + sigmoid's tail beyond 16
    assert error.max() <= bound, (error.max(), bound)


def test_tanh_fixed16_exhaustive() -> None:
    """tanh(x) = 2 sigmoid(2x) - 1 on Q12 inputs (read by the Q11 sigmoid table as 2x): error <= 2 x sigmoid bound."""
    table = sigmoid_table(8, 11, 15)
    got = tanh_q(INT16, table) / 2.0**15
    error = np.abs(got - np.tanh(INT16 / 2.0**12))
    assert error.max() <= 2 * _interp_bound(8, 4, SIGMOID_D2, 15)


@pytest.mark.parametrize(("index_bits", "in_frac", "out_frac"), [(8, 11, 15), (10, 24, 31)])
def test_exp_neg(index_bits: int, in_frac: int, out_frac: int) -> None:
    """exp(-u) = exp(-n) exp(-f): exhaustive over 16-bit inputs for Q11; error <= h^2/8 + 2.5 LSB."""
    table = exp_neg_table(index_bits, in_frac, out_frac)
    factors = exp_neg_int_factors(out_frac)
    if in_frac == 11:
        u = np.arange(0, 1 << 16, dtype=np.int64)
    else:
        u = np.random.default_rng(1).integers(0, 40 << in_frac, 300_000)
    got = exp_neg_q(u, table, factors) / 2.0**out_frac
    error = np.abs(got - np.exp(-u / 2.0**in_frac))
    h = 1.0 / (1 << index_bits)
    bound = h * h / 8 + 2.5 * 2.0**-out_frac + math.exp(-17) * (u.max() >= (17 << in_frac))
    assert error.max() <= bound, (error.max(), bound)


# --- LTC: the sigmoid table over [-16, 16) read at a clamped segment, and div_round_fast ---------------------


def _clamped_bound(index_bits: int, out_frac: int) -> float:
    """Chords of samples moved by -sigmoid'' h^2/16: h^2/16 max|sigmoid''|, plus the sample rounding (1/2 LSB),
    the interpolation rounding down (< 1 LSB) and the cap at 2^out_frac - 1 (< 1 LSB)."""
    h = 32.0 / (1 << index_bits)
    return h * h / 16 * SIGMOID_D2 + 2.5 * 2.0**-out_frac


def test_sigmoid_clamped_fixed16_exhaustive() -> None:
    """128 segments, positions in Q11 from -16: every position in [-64, 64) (clamped on both sides included)."""
    table = sigmoid_clamped_table(7, 11, 15)
    assert len(table.values) == 129 and table.frac_shift == 9 and table.offset == 16 << 11
    t = np.arange(-(1 << 18), 1 << 18, dtype=np.int64)
    got = table(t)
    z = (t - table.offset) / 2.0**11
    error = np.abs(got / 2.0**15 - _sigmoid(z))
    bound = _clamped_bound(7, 15)
    assert error.max() <= bound, (error.max(), bound)
    assert bound < 4.6e-4
    assert np.all(np.diff(got) >= 0)  # monotone everywhere, across segment edges and clamps
    assert got.min() == 0 and got.max() == (1 << 15) - 1  # fits a signed 16-bit integer
    values = np.asarray(table.values)
    assert values[0] == values[1] and values[-1] == values[-2]  # flat ends: a clamped segment needs no fix-up
    far = np.array([-(1 << 40), (1 << 40), -(1 << 62), (1 << 62)])
    assert table(far).tolist() == [0, (1 << 15) - 1, 0, (1 << 15) - 1]


def test_sigmoid_clamped_read_is_the_shifted_position() -> None:
    """read(p, shift) == table(p >> shift): what the C computes from p with one USAT and one bit-field."""
    table = sigmoid_clamped_table(7, 11, 15)
    rng = np.random.default_rng(2)
    p = rng.integers(-(1 << 31), 1 << 31, 200_000)
    for shift in (0, 3, 12, 14):
        assert np.array_equal(table.read(p, shift), table(p >> shift))


def test_sigmoid_clamped_fixed32_sampled() -> None:
    """1024 segments, positions in Q24 from -16: 2 * 10^6 random positions and a dense window around 0."""
    table = sigmoid_clamped_table(10, 24, 31)
    rng = np.random.default_rng(0)
    t = np.concatenate(
        [rng.integers(-(4 << 29), 4 << 29, 2_000_000), np.arange(table.offset - 100_000, table.offset + 100_000)]
    )
    error = np.abs(table(t) / 2.0**31 - _sigmoid((t - table.offset) / 2.0**24))
    bound = _clamped_bound(10, 31)
    assert error.max() <= bound, (error.max(), bound)
    assert max(table.values) <= (1 << 31) - 1


@pytest.mark.parametrize("den", [*range(3, 80), 255, 256, 257, 1000, 4095, 4096, 12345, 32767, 32768, 65535])
def test_div_round_fast_exhaustive_int16_numerators(den: int) -> None:
    """(n + ((d >> 1) ^ sign(n))) / d truncated: always floor or ceil of n/d, within 1/2 + 1/d of it, and round
    half up for n >= 0."""
    num = INT16 * 5 + 3  # spans beyond int16 too
    q = div_round_fast(num, np.int64(den))
    floor = num // den
    assert np.all((q == floor) | (q == floor + 1) & (floor * den != num))
    assert np.all(2 * np.abs(q * den - num) <= den + 2)  # |q - n/d| <= 1/2 + 1/d, exactly
    positive = num >= 0
    assert np.array_equal(q[positive], (num[positive] + den // 2) // den)
    assert np.array_equal(q, div_trunc(num + np.where(num < 0, ~(den >> 1), den >> 1), np.int64(den)))


@given(st.integers(-(1 << 61), (1 << 61) - 1), st.integers(3, (1 << 31) - 1))
def test_div_round_fast_wide(num: int, den: int) -> None:
    q = int(div_round_fast(np.int64(num), np.int64(den)))
    assert math.floor(Fraction(num, den)) <= q <= math.ceil(Fraction(num, den))
    assert abs(Fraction(q) - Fraction(num, den)) <= Fraction(1, 2) + Fraction(1, den)


def test_div_round_fast_needs_three() -> None:
    """Why the LTC keeps every denominator >= 3: for d = 2 a negative multiple of d is rounded one step too far."""
    assert int(div_round_fast(np.int64(-4), np.int64(2))) == -3  # -4 / 2 = -2 exactly
    assert int(div_round_fast(np.int64(-6), np.int64(3))) == -2


# --- float32: exp2_fast (the LTC's 2^t) ----------------------------------------------------------------------


@pytest.mark.slow
def test_exp2_fast_relative_error_and_clamp() -> None:
    """Relative error <= 1e-6 against 2^t over [-125, 125] (2^22 points plus every float32 in [-1/256, 1/256]
    around the table's nodes at 0); beyond +-125 (and for NaN and infinities) the result is 2^+-125 times the
    correction, always a finite normal float."""
    from lnn_edge.quant import f32math

    t = np.linspace(-125.0, 125.0, 1 << 22).astype(np.float32)
    near = np.arange(np.float32(-1 / 256), np.float32(1 / 256), np.float32(2.0**-20), dtype=np.float32)
    for values in (t, near):
        got = f32math.exp2_fast(values).astype(np.float64)
        relative = np.abs(got / np.exp2(values.astype(np.float64)) - 1)
        assert relative.max() <= 1e-6, relative.max()
    outside = np.array([125.01, 200.0, 1e30, np.inf, np.nan, -125.01, -1e30, -np.inf], dtype=np.float32)
    got = f32math.exp2_fast(outside)
    assert np.all(np.isfinite(got)) and np.all(got >= np.finfo(np.float32).tiny)
    assert np.all(got[:5] == got[0]) and np.all(got[5:] == got[5]) and got[0] > 4e37 and got[5] < 3e-38
    g = f32math.conductance_fast(np.float32(3.0), np.concatenate([t[::97], outside]))
    assert np.all((g >= 0) & (g <= np.float32(3.0)))
