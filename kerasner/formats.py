"""Reading and writing files of labelled sentences: CoNLL, GMB-style CSV and JSON lines."""

import csv
import dataclasses
import inspect
import io
import json
import logging
import re
from pathlib import Path

import numpy as np

from kerasner.errors import DataFormatError
from kerasner.sentences import Sentence, SentenceList
from kerasner.tags import _PREFIX_TO_IOB2, SCHEMES, detect_scheme, is_valid_tag, split_tag, to_iob2

logger = logging.getLogger(__name__)

FORMATS = ("csv", "conll", "jsonl")


def read_sentences(path, format=None, scheme="auto", encoding=None, **options):
    """Reads a labelled NER file into sentences with IOB2 tags.

    Formats:
    - `"csv"`: one token a row with a sentence-id column filled on each sentence's first row
      (GMB/Kaggle `ner_dataset.csv`: `Sentence #,Word,POS,Tag`). Options `word_column`,
      `tag_column`, `sentence_column`, `delimiter`. Every cell is read as text: the word
      `None` stays a word.
    - `"conll"`: one token a line, columns split by TABs (or by spaces when the first token line
      has no TAB), sentences separated by blank or whitespace-only lines; a `-DOCSTART-` line
      begins a new document. Options `word_column` (defaults to 0) and `tag_column` (defaults
      to -1).
    - `"jsonl"`: one object a line, `{"tokens": [...], "tags": [...]}`, with an optional
      document id (`"doc_id"`) and context words (`"context": [before, after]`, as
      `write_sentences` writes them). Options `tokens_key`, `tags_key`, `document_key`.

    Each sentence's `document` is its document's id: the `-DOCSTART-` count in CoNLL, the
    document key in JSON lines, 0 in CSV (a file without document marks is one document).

    Tags are checked (`O`, or a prefix B/I/E/S/L/U, a dash and a type) and converted to IOB2;
    an I- that follows O or another type is repaired to B- and counted in `stats["repaired"]`
    and a warning. Nothing is dropped: a malformed row stops reading with a `DataFormatError`
    that names the file, the line and the value.

    Args:
        path: the file.
        format: one of `"csv"`, `"conll"`, `"jsonl"`, or None to detect it from the content.
            Defaults to None.
        scheme: tag scheme of the file: `"iob2"`, `"iob1"`, `"iobes"`, `"bilou"`, or `"auto"`
            to detect it. Defaults to `"auto"`.
        encoding: text encoding, or None for UTF-8 with a Windows-1252 fallback (the GMB
            file's encoding). Defaults to None.
        **options: options of the format's reader, listed above.

    Returns:
        A `SentenceList` of `Sentence` (`.words`, `.tags`); its `stats` dict holds the file,
        format, encoding, scheme and the counts of sentences, words and repaired tags.

    Example:
    ```python
    sentences = kerasner.read_sentences("ner_dataset.csv")
    sentences = kerasner.read_sentences("train.conll", format="conll", tag_column=3, scheme="iob1")
    ```
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise ValueError(f"Unknown format. Expected one of {set(FORMATS)}. Received: format={format!r}")
    if scheme != "auto" and scheme not in SCHEMES:
        raise ValueError(f"Unknown tag scheme. Expected 'auto' or one of {set(SCHEMES)}. Received: scheme={scheme!r}")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; expected a labelled file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    text, used_encoding = _decode(path, encoding)
    # Old Mac files end lines with a lone CR: read them as lines, as Windows' CRLF.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataFormatError(path, None, "the file is empty; expected labelled sentences")
    format = format or detect_format(text)
    reader = _READERS[format]
    accepted = list(inspect.signature(reader).parameters)[2:]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"Unknown option for format {format!r}. Expected some of {accepted}. Received: {unknown}")
    sentences, counts = reader(path, text, **options)
    if not sentences:
        raise DataFormatError(path, None, "the file holds no sentences")
    _check_tag_shapes(path, sentences, per_word_lines=format != "jsonl")
    detected = detect_scheme(s.tags for s in sentences) if scheme == "auto" else scheme
    converted, repaired, changed = [], 0, 0
    for sentence in sentences:
        tags, fixed = _to_iob2(path, sentence, detected, scheme, per_word_lines=format != "jsonl")
        repaired += fixed
        if list(sentence.tags) != tags:
            changed += 1
            sentence = dataclasses.replace(sentence, tags=tuple(tags))
        converted.append(sentence)
    if repaired:
        logger.warning(
            "%s: repaired %d I- tags that followed O or another type (now B-); scheme %s", path, repaired, detected
        )
    stats = {
        "path": str(path),
        "format": format,
        "encoding": used_encoding,
        "scheme": detected,
        "sentences": len(converted),
        "words": sum(len(s) for s in converted),
        "repaired": repaired,
        "converted_sentences": changed,
        **counts,
    }
    return SentenceList(converted, stats)


def detect_format(text):
    """`"jsonl"` when the first line is a JSON object, `"csv"` when each of the first five lines
    has a comma and no TAB, `"conll"` otherwise."""
    lines = [line for line in text.split("\n")[:20] if line.strip()]
    first = lines[0].lstrip("\ufeff").lstrip()
    if first.startswith("{"):
        return "jsonl"
    if all("," in line and "\t" not in line for line in lines[:5]):
        return "csv"
    return "conll"


def _decode(path, encoding):
    data = path.read_bytes()
    if encoding is None and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"  # its byte-order mark says so
    elif encoding is None and b"\x00" in data[:4096]:
        raise DataFormatError(
            path, data[: data.index(b"\x00")].count(b"\n") + 1,
            "NUL bytes: this looks like UTF-16 or UTF-32 text without a byte-order mark, or not text; pass the "
            "file's encoding (--encoding utf-16-le, or encoding='utf-16-le')",
        )
    candidates = [encoding] if encoding else ["utf-8-sig", "cp1252"]
    for candidate in candidates:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError as error:
            last = error
        except LookupError:
            raise ValueError(f"{path}: unknown encoding. Received: encoding={encoding!r}") from None
    line = data[: last.start].count(b"\n") + 1
    raise DataFormatError(
        path,
        line,
        f"bytes that are not {' or '.join(candidates)}; pass the file's encoding (--encoding latin1, or "
        "encoding='latin1')",
        data[last.start : last.end],
    )


def _lines(text):
    # Not str.splitlines(): it also breaks on \x85, \x1c..\x1e and \u2028, which occur inside words.
    return [line.rstrip("\r") for line in text.split("\n")]


def _read_csv(path, text, word_column="Word", tag_column="Tag", sentence_column="Sentence #", delimiter=","):
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_MINIMAL,
        )
    except pd.errors.ParserError as error:
        raise DataFormatError(path, _parser_error_line(error), f"malformed CSV: {' '.join(str(error).split())}") from None
    header = text.split("\n", 1)[0].rstrip("\r")
    for role, column in (("sentence", sentence_column), ("word", word_column), ("tag", tag_column)):
        if column not in frame.columns:
            raise DataFormatError(
                path, 1, f"missing {role} column {column!r}; the header has {list(frame.columns)}", header
            )
    # Rows hold one token each, so row i is on line i + 2. Blank lines at the end are not rows.
    frame = frame.fillna("")
    raw = {column: frame[column] for column in (word_column, tag_column, sentence_column)}
    stripped = {column: values.str.strip() for column, values in raw.items()}
    changed = sum(int((raw[column] != stripped[column]).sum()) for column in raw)
    stripped = {column: values.to_numpy() for column, values in stripped.items()}
    if changed:
        logger.warning("%s: stripped spaces around %d cells (words, tags and sentence ids)", path, changed)
    words, tags, ids = stripped[word_column], stripped[tag_column], stripped[sentence_column]
    for column in raw:
        spanning = np.flatnonzero(raw[column].str.contains("\n", regex=False).to_numpy())
        if spanning.size:  # a row per line no longer holds after it: refuse it rather than misnumber
            row = int(spanning[0])
            raise DataFormatError(
                path, row + 2, f"a cell of column {column!r} spans several lines (an unclosed quote?)", raw[column][row]
            )
    filled = (words != "") | (tags != "") | (ids != "")
    last = len(filled) - int(np.argmax(filled[::-1])) if filled.any() else 0
    words, tags, ids = words[:last], tags[:last], ids[:last]
    for column, values in ((word_column, words), (tag_column, tags)):
        empty = np.flatnonzero(values == "")
        if empty.size:
            row = int(empty[0])
            raise DataFormatError(path, row + 2, f"empty cell in column {column!r}", _lines(text)[row + 1])
    starts = np.flatnonzero(ids != "")
    if starts.size == 0 or starts[0] != 0:
        raise DataFormatError(path, 2, f"the first row has no sentence id in column {sentence_column!r}", _lines(text)[1])
    bounds = list(starts) + [len(words)]
    words, tags = words.tolist(), tags.tolist()
    sentences = [Sentence(words[a:b], tags[a:b], int(a) + 2, 0) for a, b in zip(bounds[:-1], bounds[1:])]
    return sentences, {"stripped_cells": changed}


def _parser_error_line(error):
    match = re.search(r"line (\d+)", str(error))
    return int(match.group(1)) if match else None


def _read_conll(path, text, word_column=0, tag_column=-1):
    sentences, words, tags, start, stripped = [], [], [], None, 0
    width, separator = None, None
    word_column, tag_column = _column_index(path, "word_column", word_column), _column_index(path, "tag_column", tag_column)

    document = 0

    def flush():
        if words:
            sentences.append(Sentence(words.copy(), tags.copy(), start, document))
            words.clear()
            tags.clear()

    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            flush()
            continue
        if separator is None:
            separator = "\t" if "\t" in line.strip() else " "
        fields = line.split("\t") if separator == "\t" else line.split()
        if fields[0] == "-DOCSTART-":
            flush()
            document += 1
            continue
        if width is None:
            width = len(fields)
            for name, index in (("word_column", word_column), ("tag_column", tag_column)):
                if not -width <= index < width:
                    raise DataFormatError(
                        path, number, f"{name}={index} is out of range for a line of {width} columns", line
                    )
        elif len(fields) != width:
            raise DataFormatError(
                path, number, f"expected {width} columns like the first token line, found {len(fields)}", line
            )
        word, tag = fields[word_column], fields[tag_column]
        if not word.strip():
            raise DataFormatError(path, number, "an empty word; expected a word and its tag", line)
        if not tag.strip():
            raise DataFormatError(path, number, "an empty tag; expected O, B-X or I-X", line)
        stripped += (word != word.strip()) + (tag != tag.strip())
        if not words:
            start = number
        words.append(word.strip())
        tags.append(tag.strip())
    flush()
    if stripped:
        logger.warning("%s: stripped spaces around %d words and tags", path, stripped)
    return sentences, {"stripped_cells": stripped}


def _column_index(path, name, value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: a CoNLL {name} is a column index such as 0 or -1. Received: {name}={value!r}") from None


def _read_jsonl(path, text, tokens_key="tokens", tags_key="tags", document_key="doc_id"):
    sentences, stripped = [], 0
    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataFormatError(path, number, f"not valid JSON ({error.msg})", line) from error
        if not isinstance(record, dict) or tokens_key not in record or tags_key not in record:
            raise DataFormatError(path, number, f"expected an object with keys {tokens_key!r} and {tags_key!r}", line)
        tokens, tags = record[tokens_key], record[tags_key]
        if not isinstance(tokens, list) or not isinstance(tags, list) or not tokens or len(tokens) != len(tags):
            raise DataFormatError(
                path, number, f"{tokens_key!r} and {tags_key!r} must be non-empty lists of equal length", line
            )
        if not all(isinstance(token, str) and token for token in tokens):
            raise DataFormatError(path, number, "every token must be a non-empty string", tokens)
        if not all(isinstance(tag, str) for tag in tags):
            raise DataFormatError(path, number, "every tag must be a string", next(t for t in tags if not isinstance(t, str)))
        if not all(token.strip() for token in tokens):
            raise DataFormatError(path, number, "a word of only spaces; expected a word", tokens)
        stripped += sum(tag != tag.strip() for tag in tags)
        context = record.get("context")
        if context is not None and not (
            isinstance(context, list) and len(context) == 2
            and all(isinstance(side, list) and all(isinstance(w, str) and w.strip() for w in side) for side in context)
        ):
            raise DataFormatError(path, number, "'context' must be two lists of words, [before, after]", context)
        document = record.get(document_key)
        if isinstance(document, (dict, list)):
            raise DataFormatError(path, number, f"{document_key!r} must be a string or a number", document)
        sentences.append(Sentence(tokens, [tag.strip() for tag in tags], number, document, context))
    if stripped:
        logger.warning("%s: stripped spaces around %d tags", path, stripped)
    return sentences, {"stripped_cells": stripped}


def _to_iob2(path, sentence, detected, scheme, per_word_lines):
    try:
        return to_iob2(sentence.tags, detected)
    except ValueError:
        allowed = set(_PREFIX_TO_IOB2[detected]) | {"O"}
        index = next(i for i, tag in enumerate(sentence.tags) if split_tag(tag)[0] not in allowed)
        why = "detected from the file's tags: it mixes schemes" if scheme == "auto" else "asked for"
        line = sentence.line + index if per_word_lines else sentence.line
        raise DataFormatError(path, line, f"a tag outside the {detected} scheme ({why})", sentence.tags[index]) from None


def _check_tag_shapes(path, sentences, per_word_lines):
    unique = {tag for sentence in sentences for tag in sentence.tags}
    bad = {tag for tag in unique if not is_valid_tag(tag)}
    if not bad:
        return
    for sentence in sentences:
        for index, tag in enumerate(sentence.tags):
            if tag in bad:
                line = sentence.line + index if per_word_lines else sentence.line
                raise DataFormatError(path, line, "unknown tag shape; expected O or B-/I-/E-/S-/L-/U- and a type", tag)


_READERS = {"csv": _read_csv, "conll": _read_conll, "jsonl": _read_jsonl}


def write_sentences(sentences, path):
    """Writes `{"tokens": [...], "tags": [...]}` per line to `path`, with `"doc_id"` and
    `"context"` where sentences have them; returns the path.

    Example:
    ```python
    kerasner.write_sentences(validation, "runs/train/validation.jsonl")
    ```
    """
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        for sentence in sentences:
            record = {"tokens": list(sentence.words), "tags": list(sentence.tags)}
            if sentence.document is not None:
                record["doc_id"] = sentence.document
            if sentence.context is not None:
                record["context"] = [list(side) for side in sentence.context]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
