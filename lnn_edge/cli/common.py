"""Shared command-line plumbing: one clear line for user errors, progress bars, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import click

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
