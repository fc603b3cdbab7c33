"""Shared command-line plumbing: one clear line for user errors, progress bars, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import click

from lnn_edge.codegen.export import Export, unlisted_files
from lnn_edge.errors import LnnEdgeError

T = TypeVar("T")


class UserErrorGroup(click.Group):
    """A click group that turns :class:`LnnEdgeError` into ``error: <sentence>`` and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LnnEdgeError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def note_unlisted(export: Export) -> None:
    """Say on stderr which files in an export folder its manifest does not list (they are not compiled)."""
    extra = unlisted_files(export)
    if extra:
        names = [name if name.isprintable() else ascii(name) for name in extra[:8]]  # no escapes to the terminal
        shown = ", ".join(names) + (", ..." if len(extra) > 8 else "")
        click.echo(f"note: {export.directory} holds files its manifest does not list ({shown}): they are not part "
                   "of the export and are never compiled", err=True)  # fmt: skip


def note_failed_verdict(export: Export) -> None:
    """Warn on stderr when the export failed its quantization verdict (``quantization.json``): building or flashing
    it is allowed (to inspect it on a board), but it does not compute what the float64 model does."""
    report = export.directory / "quantization.json"
    try:
        if report.stat().st_size > 1 << 20:  # not one lnn-edge wrote
            return
        verdict = json.loads(report.read_text())
    except (OSError, ValueError):
        return
    if isinstance(verdict, dict) and verdict.get("passed") is False:
        failures = verdict.get("failures") or []
        reason = f" ({str(failures[0])[:200]})" if isinstance(failures, list) and failures else ""
        click.echo(f"warning: {export.directory} failed its quantization verdict{reason}: the firmware will compute "
                   "what the emulator does, which is not close enough to the float64 model; `lnn-edge verify "
                   f"{export.directory}` says more", err=True)  # fmt: skip


def progress(items: Iterable[T], label: str, length: int | None = None, show: bool = True) -> Iterator[T]:
    """Iterate with a progress bar on stderr (hidden when ``show`` is false or stderr is not a terminal)."""
    if not show:
        yield from items
        return
    with click.progressbar(items, label=label, length=length, file=sys.stderr) as bar:
        yield from bar


def print_json(payload: dict[str, Any]) -> None:
    """Print one JSON object on stdout (for ``--json``)."""
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
