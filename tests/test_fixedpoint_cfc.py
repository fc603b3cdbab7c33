"""The CfC's own primitives: the signed-index tanh table (lnn_edge.quant.fixedpoint.CfcTable) with exhaustive 16-bit
error bounds, the identities the generated C relies on (SMLAD interpolation, the gated update's width), and the
float32 rational tanh and one-division gated update (lnn_edge.quant.f32math.cfc_*)."""

from __future__ import annotations

import numpy as np
import pytest

from lnn_edge.cells.cfc.quantize import TANH_IN_MAX, TANH_INDEX_BITS, TANH_INDEX_BITS_DEEP, TANH_MIRRORED
from lnn_edge.quant import f32math
from lnn_edge.quant.fixedpoint import CfcTable, cfc_tanh_table, cfc_tanh_values, rshift_round

F16 = cfc_tanh_table(TANH_INDEX_BITS[16], TANH_IN_MAX[16], 15, mirrored=TANH_MIRRORED[16])
F16_DEEP = cfc_tanh_table(TANH_INDEX_BITS_DEEP[16], TANH_IN_MAX[16], 15, mirrored=TANH_MIRRORED[16])
"""The fixed16 table of deep backbones (512 segments)."""
F32 = cfc_tanh_table(TANH_INDEX_BITS[32], TANH_IN_MAX[32], 31, mirrored=TANH_MIRRORED[32])
TANH_BOUND_LSB = {16: 7.0, 32: 6_400.0}
"""Worst |table - tanh| over every input, in output LSBs: fixed16 2.1e-4 (full table, 256 segments on [-8, 8]),
fixed32 3.0e-6 (mirrored, 1024 segments on [0, 8]); measured 6.86 and 6 313 LSB: the interpolation error
|tanh''| h^2 / 16 after the half-chord correction, plus rounding."""
DEEP_BOUND_LSB = 2.5
"""The same for the 512-segment fixed16 table of deep backbones: measured 2.45 LSB (7.5e-5)."""


def _every_input16(table: CfcTable) -> np.ndarray:
    """Every saturated input, plus inputs far past the span on both sides (they must clamp)."""
    limit = 1 << (table.in_bits - 1)
    return np.concatenate(
        [np.arange(-limit, limit, dtype=np.int64), np.array([-(1 << 30), -limit - 1, limit, 1 << 30])]
    )


def test_table_values_are_odd_monotone_and_inside_one() -> None:
    for table, bits in ((F16, 16), (F16_DEEP, 16), (F32, 32)):
        values = np.asarray(table.values, dtype=np.int64)
        one = 1 << (bits - 1)
        assert len(values) == (1 << table.index_bits) + 1
        if table.mirrored:
            assert values[0] == 0
        else:
            assert np.array_equal(values, -values[::-1])
            assert values[len(values) // 2] == 0
        assert np.all(np.diff(values) >= 0)
        assert np.abs(values).max() <= one - 1


@pytest.mark.parametrize(
    ("table", "bound"), [(F16, TANH_BOUND_LSB[16]), (F16_DEEP, DEEP_BOUND_LSB)], ids=["256", "512"]
)
def test_fixed16_tanh_error_is_bounded_for_every_input(table: CfcTable, bound: float) -> None:
    t = _every_input16(table)
    result = table(t)
    exact = np.tanh(t / 2.0**table.in_frac)
    error_lsb = np.abs(result / 2.0**15 - exact) * 2.0**15
    assert error_lsb.max() <= bound, error_lsb.max()
    assert np.abs(result).max() <= (1 << 15) - 1  # what the gated update's width proof needs
    assert np.all(np.diff(table(np.arange(-(1 << 18), 1 << 18))) >= 0)  # monotone


def test_fixed16_sigmoid_through_the_table_is_bounded() -> None:
    """sigmoid(x) = (1 + tanh(x/2)) / 2: the gate reads x in Q(t - 1), i.e. x/2 in Q t."""
    x = _every_input16(F16)
    tg = F16(x)
    g = (tg + (1 << 15) + 1) >> 1  # the no_gate mode's g
    exact = 1.0 / (1.0 + np.exp(-np.clip(x / 2.0 ** (F16.in_frac - 1), -60, 60)))
    error_lsb = np.abs(g / 2.0**15 - exact) * 2.0**15
    assert error_lsb.max() <= TANH_BOUND_LSB[16] / 2 + 1, error_lsb.max()


def test_saturation_is_part_of_the_lookup() -> None:
    limit = 1 << (F16.in_bits - 1)
    assert F16(np.array([limit + 12345]))[0] == F16(np.array([limit - 1]))[0]
    assert F16(np.array([-limit - 12345]))[0] == F16(np.array([-limit]))[0] == F16.values[0]


def test_fixed32_tanh_error_is_bounded_on_a_dense_sample() -> None:
    rng = np.random.default_rng(0)
    limit = 1 << (F32.in_bits - 1)
    wide = rng.integers(-limit, limit, 1_000_000)
    narrow = rng.integers(-(1 << 26), 1 << 26, 1_000_000)  # |x| < 0.25: fine near 0
    t = np.concatenate([wide, narrow, [-limit, limit - 1, 0, 1, -1]])
    error_lsb = np.abs(F32(t) / 2.0**31 - np.tanh(t / 2.0**F32.in_frac)) * 2.0**31
    assert error_lsb.max() <= TANH_BOUND_LSB[32], error_lsb.max()
    assert np.abs(F32(t)).max() <= (1 << 31) - 1
    assert np.array_equal(F32(-t), -F32(t))  # mirrored: exactly odd


def test_mirrored_lookup_saturates_symmetrically() -> None:
    top = (1 << (F32.in_bits - 1)) - 1
    assert F32(np.array([-(1 << 40)]))[0] == -F32(np.array([top]))[0] == F32(np.array([-top]))[0]
    assert F32(np.array([0]))[0] == 0


@pytest.mark.parametrize("table", [F16, F16_DEEP, F32], ids=["fixed16", "fixed16-deep", "fixed32"])
def test_dual_multiply_interpolation_equals_the_table(table: CfcTable) -> None:
    """The C on ARMv7E-M computes (T[i] (2^fs - r) + T[i+1] r + 2^(fs-1)) >> fs with one SMLAD: the same bits
    as T[i] + rshift_round((T[i+1] - T[i]) r, fs), for every segment and position (fixed16: exhaustively)."""
    if table.mirrored:
        return  # the mirrored fixed32 lookup is computed as specified, without the dual multiply
    values = np.asarray(table.values, dtype=np.int64)
    fs = table.frac_shift
    positions = np.arange(1 << fs, dtype=np.int64) if fs <= 12 else np.random.default_rng(1).integers(0, 1 << fs, 4096)
    low, high = values[:-1, None], values[1:, None]
    r = positions[None, :]
    spec = low + rshift_round((high - low) * r, fs)
    dual = (low * ((1 << fs) - r) + high * r + (1 << (fs - 1))) >> fs
    assert np.array_equal(spec, dual)
    if table is not F32:  # SMLAD's operands are 16-bit halves: (2^fs - r) and r must fit int16
        assert (1 << fs) <= 32767


@pytest.mark.parametrize("bits", [16, 32])
def test_gated_update_fits_its_accumulator(bits: int) -> None:
    """h' = ((t1 + t2) ONE + tg (t2 - t1) + 2^(hs-1) - 1) >> hs with |t1|, |t2|, |tg| <= ONE - 1: the sum, its
    partial sums and (fixed16) tg (t2 - t1) fit W bits; |h'| <= 2^h for the default state format h = s - 1."""
    s = bits - 1
    one = 1 << s
    top = one - 1
    hs = 2 * s + 1 - (s - 1)
    wide = (1 << (2 * bits - 1)) - 1
    values = [-top, -top + 1, -1, 0, 1, top - 1, top]
    for t1 in values:
        for t2 in values:
            for tg in values:
                product = tg * (t2 - t1)
                base = (t1 + t2) * one
                num = base + product + (1 << (hs - 1)) - 1
                assert max(abs(product), abs(base), abs(base + product), abs(num)) <= wide
                assert abs(num >> hs) <= 1 << (s - 1)
                if bits == 16:
                    assert abs(product) <= wide


def test_table_rejects_too_coarse_inputs() -> None:
    with pytest.raises(ValueError):
        cfc_tanh_table(10, 2, 15)
    assert cfc_tanh_values(8, 15) == F16.values
    with pytest.raises(ValueError):
        cfc_tanh_table(10, 6, 31, mirrored=True)


# --- float32 ------------------------------------------------------------------------------------------------


def _grid() -> np.ndarray:
    return np.concatenate(
        [np.linspace(-12.0, 12.0, 2_000_001), [0.0, -0.0, 1e-30, -1e-30, 9.0, -9.0, 1e6, -1e6, 3e38]]
    ).astype(np.float32)


def test_f32_tanh_is_odd_and_accurate() -> None:
    x = _grid()
    t = f32math.cfc_tanh(x)
    assert t.dtype == np.float32
    assert np.abs(t.astype(np.float64) - np.tanh(x.astype(np.float64))).max() <= 7e-7
    assert np.array_equal(f32math.cfc_tanh(-x).view(np.uint32), (-t).view(np.uint32))
    zero = f32math.cfc_tanh(np.array([-0.0], dtype=np.float32))
    assert zero.view(np.uint32)[0] == np.array([-0.0], dtype=np.float32).view(np.uint32)[0]


def test_f32_gated_mix_and_activations_are_accurate() -> None:
    rng = np.random.default_rng(0)
    f1, f2, u = (rng.normal(0.0, 4.0, 200_000).astype(np.float32) for _ in range(3))
    g = 1.0 / (1.0 + np.exp(-u.astype(np.float64)))
    exact = np.tanh(f1.astype(np.float64)) * (1.0 - g) + g * np.tanh(f2.astype(np.float64))
    mix = f32math.cfc_gated_mix(f1, f2, u)
    assert mix.dtype == np.float32 and np.abs(mix - exact).max() <= 1.5e-6
    x = _grid()[:-3]
    x64 = x.astype(np.float64)
    assert np.abs(f32math.cfc_sigmoid(x) - 1.0 / (1.0 + np.exp(-x64))).max() <= 4e-7
    assert np.abs(f32math.cfc_silu(x) - x64 / (1.0 + np.exp(-x64))).max() <= 1e-5
    assert np.abs(f32math.cfc_lecun_tanh(x) - 1.7159 * np.tanh(0.666 * x64)).max() <= 1.5e-6
