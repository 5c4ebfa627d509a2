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


class DiskFullError(RunDirError):
    """The disk (or quota) filled up while rnnlab wrote `path`; what was saved before is intact because every
    run file is written to a temp file and renamed only on success. `fix` says how to continue."""

    def __init__(self, path: object, fix: str = "free space and run the command again") -> None:
        self.path = path
        super().__init__(f"no space left on device while writing {path}; {fix}")
