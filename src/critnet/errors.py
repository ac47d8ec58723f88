"""Exceptions that reach users as one clear line (the CLI prints ``str(error)`` and exits 2)."""


class CritnetError(Exception):
    """Base class: a problem the user can fix, described in one line naming the file or value."""


class InputError(CritnetError, ValueError):
    """An input image, folder or argument that cannot be used (missing, corrupt, mismatched)."""


class WeightsError(CritnetError, ValueError):
    """A weights name or file that cannot be loaded (unknown, corrupted, wrong preset)."""


class ConfigError(CritnetError, ValueError):
    """A training or model config that cannot be used: a YAML file, key or value (the message
    names the file, when there is one, and the key)."""


class WeightsWarning(UserWarning):
    """A weights file that loads but cannot be fully checked (e.g. no tensor checksum)."""


class FlatInputWarning(UserWarning):
    """An input image that is one value everywhere: it carries no detail, so the fusion shows
    only the other image's."""


class OutputError(CritnetError, OSError):
    """An output location that cannot be written: unwritable folder, full disk (one line).

    Not an :class:`~critnet.errors.InputError`: a folder run stops on it instead of failing
    every remaining pair the same way.
    """
