"""Reading and writing files of labelled sentences: CoNLL, GMB-style CSV, JSON lines (kerasner's
and the hub's, with integer tags) and the exports of annotation tools (Label Studio, doccano,
brat)."""

import csv
import dataclasses
import inspect
import io
import json
import logging
import re
from pathlib import Path

import numpy as np

from kerasner.errors import DataFormatError, cut
from kerasner.sentences import Sentence, SentenceList
from kerasner import span_formats
from kerasner.tags import _PREFIX_TO_IOB2, SCHEMES, detect_scheme, is_valid_tag, labels_from_tags, split_tag, to_iob2

logger = logging.getLogger(__name__)

FORMATS = ("csv", "conll", "jsonl", "hf-jsonl", *span_formats.SPAN_FORMATS)
# Formats whose sentences hold one word a line, so that a word's line is the sentence's plus its index.
_WORD_LINES = ("csv", "conll")


def read_sentences(path, format=None, scheme="auto", encoding=None, word_splitter="treebank", **options):
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
    - `"hf-jsonl"`: JSON lines of a hub dataset, with integer tags:
      `{"tokens": [...], "ner_tags": [3, 0, 7]}`. The tag names come from `label_names` (a
      list, a comma-separated string, or a file: a hub `dataset_info.json` or one name a line),
      or else from the `dataset_info.json` beside the file. Options `tokens_key`, `tags_key`,
      `label_names`, `document_key` (defaults to None: one document).
    - `"labelstudio"`: Label Studio's JSON export: tasks with the text in `data` and the spans
      of their first annotation (or, without one, of their first prediction, counted in
      `stats["from_predictions"]`). Options `word_splitter`, `text_key`.
    - `"doccano"`: doccano's JSON lines, `{"text": ..., "label": [[start, end, label], ...]}`
      (or `"entities"`). Options `word_splitter`, `text_key`.
    - `"brat"`: brat standoff: an `.ann` file beside its `.txt` (`path` is either, or a folder
      of them); each line of the text is a sentence, the file its document.

    In the three span formats each record's text is split into words by `word_splitter`
    (`"treebank"`, kerasner's default, `"whitespace"` or a `WordSplitter`) and the spans become
    IOB2 tags; each sentence keeps its `text` and the words' `offsets`, so that
    `write_sentences` writes the same spans back. A span is never moved: white space at its
    edges is left out, and a word that a span starts or ends inside is split there; both are
    listed in `stats["misaligned_spans"]` (file, line, record, text) and logged. A span that
    overlaps another, leaves its text or covers no word stops reading with a `DataFormatError`.

    Each sentence's `document` is its document's id: the `-DOCSTART-` count in CoNLL, the
    document key in JSON lines, 0 in CSV (a file without document marks is one document).

    Tags are checked (`O`, or a prefix B/I/E/S/L/U, a dash and a type) and converted to IOB2;
    an I- that follows O or another type is repaired to B- and counted in `stats["repaired"]`
    and a warning. Nothing is dropped: a malformed row stops reading with a `DataFormatError`
    that names the file, the line and the value.

    Args:
        path: the file.
        format: one of `FORMATS`, or None to detect it from the content (and `.ann` files or
            a folder for brat). Defaults to None.
        scheme: tag scheme of the file: `"iob2"`, `"iob1"`, `"iobes"`, `"bilou"`, or `"auto"`
            to detect it. Defaults to `"auto"`.
        encoding: text encoding, or None for UTF-8 with a Windows-1252 fallback (the GMB
            file's encoding). Defaults to None.
        word_splitter: how the span formats' texts become words: `"treebank"`, `"whitespace"`
            or a `WordSplitter`. Defaults to `"treebank"`.
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
    if format is None and (path.is_dir() or path.suffix == ".ann"):
        format = "brat"
    if format == "brat":
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        text, used_encoding = None, "utf-8"
    else:
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
    if format in span_formats.SPAN_FORMATS:
        options = {**options, "word_splitter": word_splitter}
    sentences, counts = reader(path, text, **options)
    if not sentences:
        raise DataFormatError(path, None, "the file holds no sentences")
    _check_tag_shapes(path, sentences, per_word_lines=format in _WORD_LINES)
    detected = detect_scheme(s.tags for s in sentences) if scheme == "auto" else scheme
    converted, repaired, changed = [], 0, 0
    for sentence in sentences:
        tags, fixed = _to_iob2(path, sentence, detected, scheme, per_word_lines=format in _WORD_LINES)
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
    """`"labelstudio"` for a JSON array; for JSON lines, by the first object's keys: `"doccano"`
    (`text` and `label` or `entities`), `"labelstudio"` (`data`), `"hf-jsonl"` (integer tags) or
    `"jsonl"`; `"csv"` when each of the first five lines has a comma and no TAB; `"conll"`
    otherwise."""
    lines = [line for line in text.split("\n")[:20] if line.strip()]
    first = lines[0].lstrip("\ufeff").lstrip()
    if first.startswith("["):
        return "labelstudio"
    if first.startswith("{"):
        try:
            record = json.loads(first)
        except json.JSONDecodeError:
            return "jsonl"  # its reader names the line
        if isinstance(record, dict) and "text" in record and ("label" in record or "entities" in record):
            return "doccano"
        if isinstance(record, dict) and isinstance(record.get("data"), dict):
            return "labelstudio"
        tags = record.get("ner_tags", record.get("tags")) if isinstance(record, dict) else None
        if isinstance(tags, list) and tags and all(isinstance(tag, int) and not isinstance(tag, bool) for tag in tags):
            return "hf-jsonl"
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


def _token_records(path, text, tokens_key, tags_key):
    """`(line, record, tokens, tags)` of each JSON line, with the words checked."""
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
        if not all(token.strip() for token in tokens):
            raise DataFormatError(path, number, "a word of only spaces; expected a word", tokens)
        yield number, record, tokens, tags


def _read_jsonl(path, text, tokens_key="tokens", tags_key="tags", document_key="doc_id"):
    sentences, stripped = [], 0
    for number, record, tokens, tags in _token_records(path, text, tokens_key, tags_key):
        if not all(isinstance(tag, str) for tag in tags):
            raise DataFormatError(path, number, "every tag must be a string", next(t for t in tags if not isinstance(t, str)))
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


def _read_hf_jsonl(path, text, tokens_key="tokens", tags_key="ner_tags", label_names=None, document_key=None):
    names = _label_names(path, tags_key, label_names)
    sentences = []
    for number, record, tokens, ids in _token_records(path, text, tokens_key, tags_key):
        bad = next((i for i in ids if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(names)), None)
        if bad is not None or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
            raise DataFormatError(path, number, f"a tag id that is not one of the {len(names)} label names' (0 to {len(names) - 1})", bad)
        document = record.get(document_key) if document_key else None
        sentences.append(Sentence(tokens, [names[i] for i in ids], number, document))
    return sentences, {"label_names": names}


def _label_names(path, tags_key, label_names):
    """The tag names of integer tags: given, or read from a file or the `dataset_info.json` beside `path`."""
    source = label_names
    if source is None:
        source = Path(path).with_name("dataset_info.json")
        if not source.is_file():
            raise DataFormatError(path, None, f"integer tags need their names: pass label_names (--label-names) or put the dataset's dataset_info.json beside the file")
    if isinstance(source, (list, tuple)):
        names = list(source)
    elif Path(str(source)).is_file():
        content = Path(source).read_text(encoding="utf-8-sig")
        if Path(source).suffix == ".json":
            try:
                info = json.loads(content)
                feature = info.get("features", info)[tags_key]
                names = feature.get("feature", feature)["names"]
            except (ValueError, KeyError, TypeError, AttributeError):
                raise DataFormatError(source, None, f"expected a dataset_info.json with the names of features.{tags_key}") from None
        else:
            names = [line.strip() for line in content.split("\n") if line.strip()]
    else:
        names = [name.strip() for name in str(source).split(",")]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"label_names must be non-empty tag names. Received: {cut(repr(names))}")
    return names


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


_READERS = {
    "csv": _read_csv, "conll": _read_conll, "jsonl": _read_jsonl, "hf-jsonl": _read_hf_jsonl,
    "labelstudio": span_formats._read_labelstudio, "doccano": span_formats._read_doccano, "brat": span_formats._read_brat,
}


def write_sentences(sentences, path, format="jsonl"):
    """Writes labelled sentences to `path` in `format`; returns the path.

    Formats:
    - `"jsonl"`: `{"tokens": [...], "tags": [...]}` a line, with `"doc_id"` and `"context"`
      where sentences have them;
    - `"conll"`: `word<TAB>tag` lines, a blank line after each sentence and a `-DOCSTART-`
      line where a new document begins;
    - `"hf-jsonl"`: `{"id", "tokens", "ner_tags"}` a line with integer tags, and the names
      in a `dataset_info.json` beside the file;
    - `"labelstudio"` (a JSON array of tasks with annotations), `"doccano"` (JSON lines with
      `[start, end, label]` spans), `"brat"` (`path` is a folder: a `.txt` and `.ann` a
      document). A sentence read from one of these keeps its text and spans; other sentences
      are written as their words joined by `kerasner.detokenize`.

    `read_sentences` reads each back to the same words, tags and spans.

    Example:
    ```python
    kerasner.write_sentences(validation, "runs/train/validation.jsonl")
    kerasner.write_sentences(sentences, "tasks.json", format="labelstudio")
    ```
    """
    path = Path(path)
    writers = {
        "jsonl": _write_jsonl, "conll": _write_conll, "hf-jsonl": _write_hf_jsonl,
        "labelstudio": span_formats.write_labelstudio, "doccano": span_formats.write_doccano, "brat": span_formats.write_brat,
    }
    if format not in writers:
        raise ValueError(f"Unknown format. Expected one of {set(writers)}. Received: format={format!r}")
    writers[format](list(sentences), path)
    return path


def _write_jsonl(sentences, path):
    with path.open("w", encoding="utf-8") as handle:
        for sentence in sentences:
            record = {"tokens": list(sentence.words), "tags": list(sentence.tags)}
            if sentence.document is not None:
                record["doc_id"] = sentence.document
            if sentence.context is not None:
                record["context"] = [list(side) for side in sentence.context]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_conll(sentences, path):
    with path.open("w", encoding="utf-8") as handle:
        previous = None
        for index, sentence in enumerate(sentences):
            if index and sentence.document != previous:
                handle.write("-DOCSTART-\tO\n\n")
            previous = sentence.document
            handle.write("".join(f"{word}\t{tag}\n" for word, tag in zip(sentence.words, sentence.tags)) + "\n")


def _write_hf_jsonl(sentences, path):
    names = labels_from_tags(sentence.tags for sentence in sentences)
    ids = {name: index for index, name in enumerate(names)}
    with path.open("w", encoding="utf-8") as handle:
        for index, sentence in enumerate(sentences):
            record = {"id": str(index), "tokens": list(sentence.words), "ner_tags": [ids[tag] for tag in sentence.tags]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    info = {"features": {"id": {"dtype": "string", "_type": "Value"}, "tokens": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
                         "ner_tags": {"feature": {"names": names, "_type": "ClassLabel"}, "_type": "Sequence"}}}
    path.with_name("dataset_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
