"""The generated API's status codes (lnn/lnn_status.h): NULL pointers return <NAME>_ERR_NULL, a float32 elapsed time
outside its domain returns <NAME>_ERR_ARG, and neither writes the state. Compiled with the host gcc and run.

The domains (docs/c-api.md): a float32 LTC needs dt > 0 (it divides by dt), a float32 CfC dt >= 0 (its time gate is
defined at 0); NaN fails both. A fixed-point dt has no error: it is clamped as the emulator clamps it, so 0 and
negative values step and return <NAME>_OK.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from ncps import wirings
from ncps.torch import LTC, CfC

from lnn_edge.codegen.export import export
from lnn_edge.model.importers import from_module
from lnn_edge.model.model import Calibration
from lnn_edge.target.toolchain import host_compiler

MODELS = {
    "ltc": lambda: LTC(3, wirings.AutoNCP(7, 2)),
    "cfc-dense": lambda: CfC(3, 6, backbone_units=4),
    "cfc-wired": lambda: CfC(3, wirings.AutoNCP(7, 2)),
    "ltc-mixed": lambda: LTC(3, wirings.AutoNCP(7, 2), mixed_memory=True),
    "cfc-wired-mixed": lambda: CfC(3, wirings.AutoNCP(7, 2), mixed_memory=True),
}

# Prints one status per line: the NULL cases, then each dt of DTS, then whether the state stayed as it was after
# every refused call (1); then set_state's status, whether the whole state (all STATE_SIZE values: a mixed cell's
# [h | c] too) reads back as set (1), and whether reset zeroed all of it (1).
DRIVER = r"""
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "m.h"

static const double DTS[] = { 0.0, -1.0, NAN, 1e-3 };

static m_time_t to_time(double dt)
{
#ifdef M_DT_FRAC
    return isnan(dt) ? (m_time_t)0 : (m_time_t)(dt * (double)(1L << M_DT_FRAC));
#else
    return (m_time_t)dt;
#endif
}

int main(void)
{
    m_state_t s;
    m_value_t x[M_INPUTS];
    m_value_t y[M_OUTPUTS];
    m_value_t before[M_STATE_SIZE];
    unsigned i;
    int untouched = 1;
    for (i = 0; i < M_INPUTS; i++) {
        x[i] = (m_value_t)(i + 1);
    }
    m_init(&s);
    if (m_step(&s, x, y) != M_OK) {
        return 2;
    }
    memcpy(before, m_get_state(&s), sizeof before);
    printf("%d\n", m_step_dt(0, x, M_DT_DEFAULT, y));
    printf("%d\n", m_step_dt(&s, 0, M_DT_DEFAULT, y));
    printf("%d\n", m_step_dt(&s, x, M_DT_DEFAULT, 0));
    printf("%d\n", m_set_state(&s, 0));
    untouched &= memcmp(before, m_get_state(&s), sizeof before) == 0;
    for (i = 0; i < sizeof DTS / sizeof DTS[0]; i++) {
        int status = m_step_dt(&s, x, to_time(DTS[i]), y);
        printf("%d\n", status);
        if (status != M_OK) {
            untouched &= memcmp(before, m_get_state(&s), sizeof before) == 0;
        } else {
            memcpy(before, m_get_state(&s), sizeof before);
        }
    }
    printf("%d\n", untouched);
    for (i = 0; i < M_STATE_SIZE; i++) {
        before[i] = (m_value_t)(i + 1);
    }
    printf("%d\n", m_set_state(&s, before));
    printf("%d\n", memcmp(before, m_get_state(&s), sizeof before) == 0);
    m_reset(&s);
    for (i = 0; i < M_STATE_SIZE; i++) {
        untouched &= m_get_state(&s)[i] == 0;
    }
    printf("%d\n", untouched);
    return 0;
}
"""

OK, ERR_NULL, ERR_ARG = 0, -1, -2


def _statuses(label: str, precision: str, tmp_path: Path) -> list[int]:
    torch.manual_seed(0)
    model = from_module(MODELS[label]())
    rng = np.random.default_rng(0)
    model.calibration = Calibration(x=rng.normal(size=(2, 20, model.input_size)), dt=np.ones((2, 20)))
    exported = export(model, tmp_path / "out", precision, name="m")
    driver = tmp_path / "driver.c"
    driver.write_text(DRIVER)
    binary = tmp_path / "driver"
    sources = [str(driver), str(exported.directory / "m.c")]
    flags = ["-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Werror", "-I", str(exported.directory)]
    subprocess.run([host_compiler(), *flags, *sources, "-o", str(binary), "-lm"], check=True, capture_output=True)
    run = subprocess.run([str(binary)], check=True, capture_output=True, text=True)
    return [int(line) for line in run.stdout.split()]


@pytest.mark.parametrize("label", sorted(MODELS))
@pytest.mark.parametrize("precision", ["float32", "fixed16", "fixed32"])
def test_step_refuses_null_pointers_and_out_of_domain_dt_without_writing(
    label: str, precision: str, tmp_path: Path
) -> None:
    statuses = _statuses(label, precision, tmp_path)
    null_cases, dt_cases, untouched, whole_state = statuses[:4], statuses[4:8], statuses[8], statuses[9:]
    assert null_cases == [ERR_NULL] * 4
    if precision != "float32":
        expected = [OK, OK, OK, OK]  # dt 0, -1, "NaN" (0 in Q format), 1e-3: clamped, never an error
    elif label.startswith("ltc"):
        expected = [ERR_ARG, ERR_ARG, ERR_ARG, OK]
    else:
        expected = [OK, ERR_ARG, ERR_ARG, OK]  # the CfC's gate is defined at dt = 0
    assert dt_cases == expected
    assert untouched == 1
    assert whole_state == [OK, 1, 1]
