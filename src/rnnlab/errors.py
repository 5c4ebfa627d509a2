"""Error types whose messages are one line naming the problem and the fix."""

from __future__ import annotations


class RnnlabError(Exception):
    """Base for every error rnnlab raises on purpose; the CLI prints it as one line."""


class DataError(RnnlabError, ValueError):
    """Bad or unavailable data: missing columns, NaN, empty sequences, corrupt archives."""


class ConfigError(RnnlabError, ValueError):
    """A recipe or argument that does not validate (unknown key, wrong type, bad value)."""


class RunDirError(RnnlabError, FileNotFoundError):
    """A run directory that is missing files or cannot be read."""
