"""Integer primitives against exact references (Python integers and fractions), exhaustive over 16-bit
inputs, with the documented error bounds asserted."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lnn_edge.fixedpoint import (
    div_round,
    div_trunc,
    exp_neg_int_factors,
    exp_neg_q,
    exp_neg_table,
    quantize_value,
    rshift_round,
    saturate,
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
