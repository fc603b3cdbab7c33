"""User-facing errors.

Every error a user can cause (a bad file, a wrong flag, a missing tool) is raised as a subclass of
:class:`LnnEdgeError` with one sentence that names the file, field, board or port and says what to do.
The command line prints that sentence and exits non-zero without a traceback; anything else is a bug.
"""


class LnnEdgeError(Exception):
    """An error caused by the user's input or environment, reported as one clear line."""


class ModelFileError(LnnEdgeError):
    """A model file is missing, truncated, corrupt or fails validation."""


class ImportModelError(LnnEdgeError):
    """A torch module, checkpoint or state_dict cannot be turned into a model file."""


class DataFileError(LnnEdgeError):
    """An input data file (npz or csv) is missing, malformed or has the wrong shape."""


class MissingDependencyError(LnnEdgeError):
    """An optional dependency (torch, ncps, a toolchain) is needed but not installed."""
