"""A human- and machine-readable summary of a model (``lnn-edge inspect``)."""

from __future__ import annotations

from typing import Any

from lnn_edge.model import kinds
from lnn_edge.model.model import Model
from lnn_edge.model.modelfile import content_hash


def summarize(model: Model) -> dict[str, Any]:
    """Kind, neurons by role, synapses, effective parameters, inputs, outputs and a memory estimate."""
    sensory, internal = model.synapse_counts()
    params = model.parameter_count()
    kind = kinds.get(model.cell)
    synapses = sensory + internal
    return {
        "cell": model.cell,
        "wiring": model.wiring.kind,
        "neurons": model.neurons,
        # Roles in state order (LTC NCP: motor, command, inter; wired CfC: inter, command, motor).
        "roles": {
            role: len(indices)
            for role, indices in sorted(model.wiring.roles.items(), key=lambda item: min(item[1], default=0))
        },
        "inputs": model.input_size,
        "input_names": model.input_names,
        "outputs": model.output_size,
        "output_names": model.output_names,
        "output_state_indices": model.output_state_indices,
        "synapses": {"sensory": sensory, "internal": internal},
        "effective_parameters": params,
        "options": kind.summary_options(model),
        "dt": model.dt,
        "task": model.task,
        "calibration_sequences": None if model.calibration is None else int(model.calibration.x.shape[0]),
        "calibration_labels": model.calibration is not None and model.calibration.y is not None,
        "calibration_stats": model.calibration is not None and model.calibration.stats is not None,
        "input_ranges": {name: list(bounds) for name, bounds in model.input_ranges.items()},
        # Flash: the used parameters plus, for sparse cells, two one-byte indices per synapse.
        # RAM: the state vector (the step's temporaries live on the stack and are not counted here).
        "memory_estimate_bytes": {
            "flash_float32": 4 * params + (2 * synapses if kind.indexed_synapses else 0),
            "flash_fixed16": 2 * params + (2 * synapses if kind.indexed_synapses else 0),
            "ram_state_float32": 4 * model.state_size,
        },
        "content_hash": content_hash(model),
    }


def format_summary(info: dict[str, Any]) -> str:
    """Render :func:`summarize` as aligned text lines."""
    roles = ", ".join(f"{count} {role}" for role, count in info["roles"].items()) or "-"
    mem = info["memory_estimate_bytes"]
    rows = [
        ("cell", f"{kinds.get(info['cell']).title}, wiring {info['wiring']}"),
        ("neurons", f"{info['neurons']} ({roles})"),
        ("inputs", f"{info['inputs']}: {', '.join(info['input_names'])}"),
        ("outputs", f"{info['outputs']}: {', '.join(info['output_names'])}"),
        ("synapses", f"{info['synapses']['sensory']} sensory, {info['synapses']['internal']} internal"),
        ("parameters", f"{info['effective_parameters']} effective"),
        ("options", ", ".join(f"{key}={value}" for key, value in info["options"].items())),
        ("time step", f"{info['dt']:g}"),
        (
            "memory (est.)",
            f"flash {mem['flash_float32']} B float32 / {mem['flash_fixed16']} B fixed16, "
            f"state {mem['ram_state_float32']} B",
        ),
        (
            "calibration",
            "none"
            if info["calibration_sequences"] is None
            else f"{info['calibration_sequences']} seqs"
            + (", whole-split statistics" if info["calibration_stats"] else "")
            + (", class labels" if info["calibration_labels"] else ""),
        ),
        ("content hash", info["content_hash"][:16]),
    ]
    if info["input_ranges"]:
        declared = ", ".join(f"{name} {low:g}..{high:g}" for name, (low, high) in info["input_ranges"].items())
        rows.insert(-1, ("input ranges", f"{declared} (declared)"))
    if info["task"]:
        task = info["task"]
        rows.append(
            (
                "task",
                ", ".join(f"{key}={value}" for key, value in task.items() if not isinstance(value, dict)),
            )
        )
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
