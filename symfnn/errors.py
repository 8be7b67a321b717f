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


def show(text: object, limit: int = 60) -> str:
    """User text for a message: repr() (so it stays on one line), shortened when long."""
    if isinstance(text, str) and len(text) > limit:
        return f"{text[: limit - 20]!r}… ({len(text)} characters)"
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 20]}… ({len(shown)} characters)"


def show_path(path: object) -> str:
    """A path for a message: as it is when printable, else its repr() (one line either way)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def one_line(message: str, limit: int = 400) -> str:
    """The last guard before stderr: control characters escaped, a very long line shortened."""
    if not message.isprintable():
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    if len(message) > limit:
        message = f"{message[: limit - 30]}… ({len(message)} characters)"
    return message
