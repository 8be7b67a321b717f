"""The exception hierarchy: one class per stage, each a one-line message for the user."""


class SymfnnError(Exception):
    """Base class; the CLI prints the message on one line and exits 2."""

    exit_code = 2


class SpecError(SymfnnError):
    """The architecture text, TOML file or its values are invalid."""


class DerivationError(SymfnnError):
    """SymPy could not derive or convert a step."""

    exit_code = 1


class RenderError(SymfnnError):
    """A template or an output file could not be written."""


class CheckError(SymfnnError):
    """A proof or gradient check could not be carried out."""

    exit_code = 1


class ScriptError(SymfnnError):
    """A --script file is missing or is not a symfnn training script (bad input, exit 2)."""


class DataError(SymfnnError):
    """A data set is missing, unreadable or does not fit the spec."""
