"""Locate the package data (templates/, firmware/, boards/) in a source checkout or an installed wheel."""

from pathlib import Path


def data_dir() -> Path:
    """The folder that holds ``templates/``, ``firmware/`` and ``boards/``.

    In a source checkout (and an editable install) these sit at the repository's top level; an installed wheel
    carries them as ``lnn_edge/data/`` (see pyproject.toml).
    """
    package = Path(__file__).resolve().parent
    checkout = package.parent
    if (checkout / "templates").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    return package / "data"
