"""C data layout that the cells' code generators share: element and struct sizes (for the memory accounting)
and CSR arrays. Below the code generator, so that its cell modules need not import it."""

from __future__ import annotations

import numpy as np


def struct_bytes(members: list[tuple[int, int, int]]) -> int:
    """``sizeof`` of a C struct of array members ``(element bytes, element alignment, count)`` in declaration
    order, as the ARM EABI and x86-64 ABIs lay it out: each member at a multiple of its alignment, the whole
    rounded up to the largest alignment."""
    offset, largest = 0, 1
    for size, align, count in members:
        offset = -(-offset // align) * align + size * count
        largest = max(largest, align)
    return -(-offset // largest) * largest


def sizeof(array_type: str) -> int:
    """Bytes of one element of a C array type."""
    return {
        "int8_t": 1,
        "uint8_t": 1,
        "int16_t": 2,
        "uint16_t": 2,
        "int32_t": 4,
        "uint32_t": 4,
        "float": 4,
        "int64_t": 8,
    }[array_type]


def csr_by_destination(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row pointers [dst+1] and sorted source indices of a [src, dst] 0/1 mask."""
    rows = [0]
    sources: list[int] = []
    for dst in range(mask.shape[1]):
        found = np.nonzero(mask[:, dst])[0]
        sources.extend(int(s) for s in found)
        rows.append(len(sources))
    return np.array(rows, dtype=np.int64), np.array(sources, dtype=np.int64)
