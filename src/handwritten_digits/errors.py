"""User-facing errors.

Every problem a person can fix (a missing file, a corrupt download, a bad flag value) is raised as a
`DigitsError` with a one-line message that names the thing and what to do. The CLI maps these to exit
status 2 and the server to 4xx responses; anything else is a bug.
"""


class DigitsError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class DataError(DigitsError):
    """A data file is missing, corrupt or fails verification."""


class ModelError(DigitsError):
    """A model name, file or sidecar is unknown or unreadable."""


class ImageError(DigitsError):
    """An input image cannot be decoded or is refused (too large, not an image)."""
