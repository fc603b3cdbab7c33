"""Run a quantized model over sequences exactly as the generated C will: the bit-exact emulator.

``Emulator(qmodel).run(x, dt)`` takes float inputs (converted to the input formats the way the host
harness converts them before calling the C), returns outputs and state for every step, dequantized to
float64, plus the raw integers for fixed point, and a :class:`SaturationLog` in checking mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lnn_edge import cells
from lnn_edge.quant.emulate_common import SaturationLog
from lnn_edge.quant.fixedpoint import float_to_q, int_limits
from lnn_edge.quant.qmodel import QuantizedModel


@dataclass
class EmulatorResult:
    """Outputs [B,T,M] and state [B,T,N] (float64), raw integers for fixed point, and saturations."""

    y: np.ndarray
    state: np.ndarray
    y_raw: np.ndarray | None
    state_raw: np.ndarray | None
    saturations: SaturationLog


class Emulator:
    """Bit-exact NumPy twin of the generated C for one quantized model."""

    def __init__(self, qmodel: QuantizedModel) -> None:
        self.qmodel = qmodel
        self.cell = cells.get(qmodel.model.cell)
        # The cell's step kernel, one of the two: the fixed-point one takes the saturation log, float32 has none.
        self._fixed: cells.FixedStep | None = self.cell.fixed_step(qmodel) if qmodel.is_fixed else None
        self._float32: cells.Float32Step | None = None if qmodel.is_fixed else self.cell.float32_step(qmodel)

    # --- conversions at the API boundary (the host harness does the same before calling the C) ---------
    def input_to_raw(self, x: np.ndarray, log: SaturationLog | None = None) -> np.ndarray:
        """Float inputs [B,S] to their per-feature Q formats, rounded and saturated."""
        raw, saturated = float_to_q(x, self.qmodel.params["x_frac"].astype(np.int64)[None, :], self.qmodel.bits)
        if log is not None:
            log.record("x", saturated)
        return raw

    def dt_to_raw(self, dt: np.ndarray, log: SaturationLog | None = None) -> np.ndarray:
        """Elapsed times [B] to Q``dt``, rounded and saturated."""
        raw, saturated = float_to_q(dt, self.qmodel.formats["dt"], self.qmodel.bits)
        clipped = np.maximum(raw, 0)  # a negative time step cannot be stepped: the C refuses dt <= 0
        if log is not None:
            log.record("dt", (saturated | (raw < 0))[:, None])
        return clipped

    def clamp_inputs(self, x: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float inputs [B,T,S] and elapsed times [B,T] clamped to what the input formats can hold: what the model
        sees after saturation, so that a reference run on them measures quantization error, not the clamp."""
        if not self.qmodel.is_fixed:
            return x, dt
        low, high = int_limits(self.qmodel.bits)
        scale = np.exp2(self.qmodel.params["x_frac"].astype(np.float64))
        x_low, x_high = low / scale, high / scale
        arrays = self.qmodel.model.arrays
        if "xm" in self.qmodel.formats and "input_w" in arrays:
            # The LTC's mapped input x * w + b saturates in Q``xm``: the input range that maps inside it.
            xm_scale = math.ldexp(1.0, self.qmodel.formats["xm"])
            w, b = arrays["input_w"], arrays.get("input_b", np.zeros_like(arrays["input_w"]))
            with np.errstate(divide="ignore"):
                ends = np.sort(np.stack([(low / xm_scale - b) / w, (high / xm_scale - b) / w]), axis=0)
            live = w != 0
            x_low = np.where(live, np.maximum(x_low, ends[0]), x_low)
            x_high = np.where(live, np.minimum(x_high, ends[1]), x_high)
        dt_scale = math.ldexp(1.0, self.qmodel.formats["dt"])
        # The LTC steps at least dt_min_q (it divides by dt): a shorter elapsed time is taken as that.
        dt_low = int(self.qmodel.constants.get("dt_min_q", low)) / dt_scale
        return np.clip(x, x_low, x_high), np.clip(dt, dt_low, high / dt_scale)

    def state_to_float(self, raw: np.ndarray) -> np.ndarray:
        return raw / math.ldexp(1.0, self.qmodel.formats[self.cell.state_format])

    def output_to_float(self, raw: np.ndarray) -> np.ndarray:
        return raw / np.exp2(self.qmodel.params["y_frac"].astype(np.float64))

    def initial_state(self, batch: int) -> np.ndarray:
        dtype = np.float32 if not self.qmodel.is_fixed else np.int64
        return np.zeros((batch, self.qmodel.model.state_size), dtype=dtype)

    def step_raw(
        self, x_raw: np.ndarray, state: np.ndarray, dt_raw: np.ndarray, log: SaturationLog | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step on already-converted inputs (integers, or float32 for float32)."""
        if self._fixed is not None:
            return self._fixed.step(x_raw, state, dt_raw, log)
        assert self._float32 is not None
        return self._float32.step(x_raw, state, dt_raw)

    def run(self, x: np.ndarray, dt: np.ndarray, check: bool = True) -> EmulatorResult:
        """Run float sequences ``x`` [B,T,S] with elapsed times ``dt`` [B,T] from a zero state."""
        batch, steps, _ = x.shape
        log = SaturationLog()
        state = self.initial_state(batch)
        fixed = self.qmodel.is_fixed
        out_dtype = np.int64 if fixed else np.float32
        ys = np.empty((batch, steps, self.qmodel.model.output_size), dtype=out_dtype)
        states = np.empty((batch, steps, self.qmodel.model.state_size), dtype=out_dtype)
        for t in range(steps):
            log.step = t
            if fixed:
                x_in = self.input_to_raw(x[:, t], log if check else None)
                dt_in = self.dt_to_raw(dt[:, t], log if check else None)
            else:
                x_in, dt_in = x[:, t].astype(np.float32), dt[:, t].astype(np.float32)
            ys[:, t], state = self.step_raw(x_in, state, dt_in, log if check else None)
            states[:, t] = state
        if fixed:
            return EmulatorResult(self.output_to_float(ys), self.state_to_float(states), ys, states, log)
        return EmulatorResult(ys.astype(np.float64), states.astype(np.float64), None, None, log)
