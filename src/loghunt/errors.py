"""The exceptions loghunt raises; all derive from :class:`LoghuntError`."""

from __future__ import annotations


class LoghuntError(Exception):
    """Root of every error loghunt raises on purpose."""


class ConfigError(LoghuntError, ValueError):
    """A parameter or option has a value loghunt cannot use."""


class InputError(LoghuntError):
    """Input that cannot be read at all; carries where it happened."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class SchemaMismatchError(LoghuntError):
    """New data does not have the columns or types a fitted model expects."""


class ModelIntegrityError(LoghuntError):
    """A saved model's files are missing, unexpected, altered or unreadable."""


class NotFittedError(LoghuntError, AttributeError):
    """A method that needs fitted state was called before ``fit``."""


class MissingExtraError(LoghuntError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is required here: pip install 'loghunt[{extra}]'")
