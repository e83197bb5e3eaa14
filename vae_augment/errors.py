"""Exception types. Every user-facing failure is a `VAEAugmentError`.

The CLI turns these into a one-line message on stderr and exit code 2.
"""

__all__ = ["VAEAugmentError", "SchemaError", "ArtifactError", "InputError"]


class VAEAugmentError(ValueError):
    """Base class for errors caused by the user's input, arguments or artifact."""


class InputError(VAEAugmentError):
    """A missing, unreadable, empty or inconsistent input file."""


class SchemaError(VAEAugmentError):
    """A column the model cannot learn, or data that does not match the artifact."""


class ArtifactError(VAEAugmentError):
    """A model directory that is missing, tampered with, or from another format version."""
