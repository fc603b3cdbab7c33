"""Cells (placeholder; the registry comes next)."""
