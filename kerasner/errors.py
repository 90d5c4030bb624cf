"""The error raised for malformed input data."""


def cut(text, limit=100):
    """`text`, cut to about `limit` characters for a one-line message."""
    return text if len(text) <= limit else f"{text[: limit - 20]}… ({len(text):,} characters)"


class DataFormatError(ValueError):
    """Malformed input: names the file, the line and the offending value.

    Args:
        path: the file (str or path).
        line: 1-based line number, or None when the problem is the whole file.
        message: what is wrong and what was expected.
        value: the offending value, shown with `repr` and cut to about 100 characters. Defaults
            to no value.

    Example:
    ```python
    raise DataFormatError("train.conll", 12, "unknown tag shape; expected O, B-X or I-X", "X-PER")
    ```
    """

    _NO_VALUE = object()

    def __init__(self, path, line, message, value=_NO_VALUE):
        self.path = str(path)
        self.line = line
        self.value = None if value is self._NO_VALUE else value
        where = self.path if line is None else f"{self.path}, line {line}"
        text = f"{where}: {message}"
        if value is not self._NO_VALUE:
            text += f". Received: {cut(repr(value))}"
        super().__init__(text)
