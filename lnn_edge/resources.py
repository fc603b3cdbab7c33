"""Locate the package data (templates/, firmware/, boards/) in a source checkout or an installed wheel."""

from importlib import resources
from pathlib import Path


def data_dir() -> Path:
    """The folder that holds ``templates/``, ``firmware/`` and ``boards/``.

    In a source checkout these sit at the repository's top level; an installed wheel carries them
    as the ``lnn_edge.data`` package (see pyproject.toml).
    """
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "templates").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout
    return Path(str(resources.files("lnn_edge.data")))
