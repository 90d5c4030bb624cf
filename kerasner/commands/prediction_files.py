"""Streams of prediction input and output: raw text lines, pre-split words, JSON lines, CoNLL."""

import json

from kerasner.errors import DataFormatError

INPUT_FORMATS = ("text", "conll", "jsonl")
WORDS_KEYS = ("tokens", "words")
# json.dumps(ensure_ascii=False) leaves these line breaks raw; str.splitlines() would break there.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _cut(value, limit=100):
    return value if len(value) <= limit else value[:limit] + "..."


def read_lines(stream, name):
    """Yields `(line_number, text)` for every line of a binary `stream` of UTF-8 text.

    Lines end at `\\n` only (a lone `\\r` is kept inside the line; one `\\r` before the `\\n` is
    dropped), a byte-order mark at the start is dropped, and one line is read at a time.

    Raises:
        DataFormatError: a line that is not UTF-8, naming `name` and the line.
    """
    for number, raw in enumerate(stream, 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataFormatError(name, number, "bytes that are not UTF-8", _cut(raw[max(error.start - 20, 0) : error.end + 20])) from None


def read_word_sentences(lines, name, format):
    """Yields `(record, words)` for each sentence of pre-split words in `lines` (from `read_lines`).

    `"conll"`: one word a line in the first column (TAB- or space-separated; other columns are
    ignored), blank lines between sentences, `-DOCSTART-` lines skipped; `record` is None.
    `"jsonl"`: one JSON object a line with the words under `"tokens"` or `"words"`; `record` is
    the object, so that its other keys can pass through.
    """
    if format not in ("conll", "jsonl"):
        raise ValueError(f"Unknown format of pre-split words. Expected 'conll' or 'jsonl'. Received: format={format!r}")
    if format == "jsonl":
        yield from _jsonl_sentences(lines, name)
        return
    words = []
    for _, line in lines:
        fields = line.split("\t") if "\t" in line else line.split()
        word = fields[0].strip() if fields else ""
        if not word:
            if words:
                yield None, words
                words = []
        elif word != "-DOCSTART-":
            words.append(word)
    if words:
        yield None, words


def _jsonl_sentences(lines, name):
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataFormatError(name, number, f"not valid JSON ({error.msg})", _cut(line)) from None
        key = next((k for k in WORDS_KEYS if isinstance(record, dict) and k in record), None)
        words = record.get(key) if key else None
        if not isinstance(words, list) or not all(isinstance(word, str) and word.strip() for word in words):
            raise DataFormatError(
                name, number, f"expected an object with a list of non-empty words under one of {list(WORDS_KEYS)}", _cut(line)
            )
        yield record, words


def json_line(value):
    """`value` as one line of JSON (UTF-8 kept readable; no character that splits lines)."""
    text = json.dumps(value, ensure_ascii=False)
    for character, escaped in _LINE_BREAKS.items():
        text = text.replace(character, escaped)
    return text + "\n"


def write_entities(out, text, entities):
    """Writes `{"text": ..., "entities": [...]}` as one line; `entities` may be an iterator,
    written as it yields, and `text` is written a slice at a time: a long text needs no second copy."""
    out.write('{"text": "')
    for start in range(0, len(text), 1 << 20):
        out.write(json_line(text[start : start + (1 << 20)])[1:-2])  # the string's inside, no quotes
    out.write('", "entities": [')
    for number, entity in enumerate(entities):
        out.write((", " if number else "") + json_line(entity)[:-1])
    out.write("]}\n")


def write_tags(out, format, record, words, tags):
    """Writes one sentence's tags: CoNLL `word<TAB>tag` lines and a blank line, or the JSON
    `record` with `"tags"` added."""
    if format == "conll":
        out.write("".join(f"{word}\t{tag}\n" for word, tag in zip(words, tags)) + "\n")
    else:
        out.write(json_line({**record, "tags": list(tags)}))
