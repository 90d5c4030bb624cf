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


def read_conll_words(lines):
    """Yields the words of each sentence of CoNLL `lines` (from `read_lines`): one word a line in
    the first column (TAB- or space-separated; other columns are ignored), blank lines between
    sentences, `-DOCSTART-` lines skipped."""
    words = []
    for _, line in lines:
        fields = line.split("\t") if "\t" in line else line.split()
        word = fields[0].strip() if fields else ""
        if not word:
            if words:
                yield words
                words = []
        elif word != "-DOCSTART-":
            words.append(word)
    if words:
        yield words


def read_json_records(lines, name):
    """Yields `(line_number, object)` for each non-empty line of JSON objects."""
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataFormatError(name, number, f"not valid JSON ({error.msg})", _cut(line)) from None
        if not isinstance(record, dict):
            raise DataFormatError(name, number, "expected a JSON object", _cut(line))
        yield number, record


def is_text_record(record):
    """Whether a JSON input object holds raw text (`"text"`) rather than words."""
    return "text" in record and not any(key in record for key in WORDS_KEYS)


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


OUTPUT_FORMATS = ("jsonl", "conll", "labelstudio", "doccano")


def word_tags(words, entities):
    """IOB2 tags of `words` (`(word, start, end)`) from entity spans on their boundaries."""
    tags, index = ["O"] * len(words), 0
    for entity in sorted(entities, key=lambda e: e["start"]):
        while index < len(words) and words[index][1] < entity["start"]:
            index += 1
        first = index
        while index < len(words) and words[index][2] <= entity["end"]:
            tags[index] = ("B-" if index == first else "I-") + entity["label"]
            index += 1
    return tags


class PredictionWriter:
    """Writes each input's entities in one of `OUTPUT_FORMATS`.

    - `jsonl`: `{"text", "entities"}` a line, or the input's JSON object with `"entities"` (raw
      text) or `"tags"` (words) added, so that ids and other keys pass through;
    - `conll`: `word<TAB>tag` lines and a blank line a text;
    - `doccano`: JSON lines `{"text", "label": [[start, end, label], ...]}` with the input
      object's other keys (an `id`);
    - `labelstudio`: a JSON array of Label Studio tasks, the entities as a prediction with
      their scores (pre-annotations), an input `id` as the task's.

    Entities scored below `min_score` are left out (their words tagged `O`).
    """

    def __init__(self, out, format="jsonl", min_score=0.0, model_version=None):
        if format not in OUTPUT_FORMATS:
            raise ValueError(f"Unknown output format. Expected one of {list(OUTPUT_FORMATS)}. Received: {format!r}")
        self.out, self.format, self.min_score, self.model_version = out, format, float(min_score), model_version
        self.count = 0

    def _kept(self, entities):
        return [entity for entity in entities if entity["score"] >= self.min_score]

    def text(self, record, text, entities, words=None):
        """One raw text's entities; `words` (`(word, start, end)`, the splitter's) for conll;
        `record` is the input's JSON object or None."""
        if self.format == "jsonl" and record is None and not self.min_score:
            write_entities(self.out, text, entities)  # streams a long text's entities
        else:
            self._write(record, text, self._kept(list(entities)), words, None)
        self.count += 1

    def words(self, record, words, tags, scores):
        """One pre-split sentence's tags and their scores; `record` as in `text`."""
        from kerasner.entity_predictor import decode_entities
        from kerasner.word_splitter import detokenize

        text, offsets = detokenize(words)
        placed = [(word, start, end) for word, (start, end) in zip(words, offsets)]
        entities = self._kept(decode_entities(text, placed, tags, scores))
        kept_tags = word_tags(placed, entities) if self.min_score else list(tags)  # as decoded, unless filtered
        self._write(record or {"tokens": list(words)}, text, entities, placed, kept_tags)
        self.count += 1

    def _write(self, record, text, entities, words, tags):
        own = {k: v for k, v in (record or {}).items() if k not in ("text", "tokens", "words", "entities", "tags")}
        if self.format == "conll":
            tags = tags if tags is not None else word_tags(words, entities)
            self.out.write("".join(f"{word}\t{tag}\n" for (word, _, _), tag in zip(words, tags)) + "\n")
        elif self.format == "jsonl" and tags is not None:
            self.out.write(json_line({**(record or {}), "tags": tags}))
        elif self.format == "jsonl":
            self.out.write(json_line({**own, "text": text, "entities": entities}))
        elif self.format == "doccano":
            self.out.write(json_line({**own, "text": text, "label": [[e["start"], e["end"], e["label"]] for e in entities]}))
        else:
            from kerasner.span_formats import labelstudio_result

            result = [labelstudio_result(i, e["start"], e["end"], e["label"], text, e["score"]) for i, e in enumerate(entities)]
            prediction = {"result": result, "score": min((e["score"] for e in entities), default=1.0)}
            if self.model_version:
                prediction["model_version"] = self.model_version
            task = {"data": {"text": text, **{k: v for k, v in own.items() if k != "id"}}, "predictions": [prediction]}
            if "id" in own:
                task = {"id": own["id"], **task}
            self.out.write(("[\n" if not self.count else ",\n") + json_line(task)[:-1])

    def close(self):
        """Ends the output (the JSON array of Label Studio tasks)."""
        if self.format == "labelstudio":
            self.out.write("[\n]\n" if not self.count else "\n]\n")
