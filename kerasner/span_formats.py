"""Text annotated with character spans, as annotation tools export it: Label Studio, doccano and
brat. Spans become word tags through a word splitter, and word tags become spans again."""

import bisect
import json
import logging
from pathlib import Path

from kerasner.errors import DataFormatError, cut
from kerasner.sentences import Sentence
from kerasner.tags import decode_entities
from kerasner.word_splitter import WordSplitter, detokenize

logger = logging.getLogger(__name__)

SPAN_FORMATS = ("labelstudio", "doccano", "brat")
REPORTED = 5  # misaligned spans named in the log; stats["misaligned_spans"] has them all


def spans_to_sentence(text, spans, splitter, where, document=None):
    """The `Sentence` of `text`'s words, tagged IOB2 by `spans`, and the spans that were not on
    word boundaries.

    A span's white space at either edge is left out, and a word that a span starts or ends
    inside is split there, so that every span keeps its exact characters; both are reported.

    Args:
        text: str.
        spans: `(start, end, label)` triples, character offsets into `text` (end exclusive).
        splitter: a `WordSplitter`.
        where: `(path, line, record)` for messages: the file, the line of the record (or
            None) and the record's id.
        document: the sentence's document id. Defaults to None.

    Returns:
        `(sentence, misaligned)`: `misaligned` is a list of dicts with the record, the span,
        its text and the change.

    Raises:
        DataFormatError: a span outside the text, covering no word, or overlapping another.
    """
    path, line, record = where
    checked = []
    for start, end, label in spans:
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise DataFormatError(path, line, f"record {record}: a span needs 0 <= start < end <= {len(text):,} (its text's length)", [start, end, label])
        if not isinstance(label, str) or not label.strip() or any(character.isspace() for character in label):
            raise DataFormatError(path, line, f"record {record}: a span's label must be a name without white space", label)
        inner_start, inner_end = start, end
        while inner_start < inner_end and text[inner_start].isspace():
            inner_start += 1
        while inner_end > inner_start and text[inner_end - 1].isspace():
            inner_end -= 1
        if inner_start == inner_end:
            raise DataFormatError(path, line, f"record {record}: a span of white space only", [start, end, label])
        checked.append((inner_start, inner_end, label, (start, end)))
    checked.sort()
    for before, after in zip(checked, checked[1:]):
        if after[0] < before[1]:
            raise DataFormatError(
                path, line, f"record {record}: overlapping spans {list(before[3]) + [before[2]]} and "
                f"{list(after[3]) + [after[2]]}; IOB2 tags hold one entity a word", text[before[0] : after[1]],
            )
    cuts = sorted({edge for start, end, *_ in checked for edge in (start, end)})
    words, offsets, split = [], [], set()
    for word, start, end in splitter.iter_words(text):
        edges = cuts[bisect.bisect_right(cuts, start) : bisect.bisect_left(cuts, end)]
        for piece_start, piece_end in zip([start, *edges], [*edges, end]):
            words.append(text[piece_start:piece_end])
            offsets.append((piece_start, piece_end))
        split.update(edges)
    tags, misaligned = ["O"] * len(words), []
    starts = [start for start, _ in offsets]
    for start, end, label, original in checked:
        first, last = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
        if first == last:
            raise DataFormatError(path, line, f"record {record}: a span that covers no word", text[start:end])
        tags[first : last] = [f"B-{label}"] + [f"I-{label}"] * (last - first - 1)
        changes = []
        if original != (start, end):
            changes.append("white space at its edge left out")
        if start in split or end in split:
            changes.append("a word split at its edge")
        if changes:
            misaligned.append({
                "line": line, "record": record, "start": original[0], "end": original[1], "label": label,
                "text": text[original[0] : original[1]], "change": "; ".join(changes),
            })
    return Sentence(words, tags, line, document, text=text, offsets=offsets), misaligned


def sentence_spans(sentence):
    """`(text, [(start, end, label)])` of a labelled sentence: its own text and offsets, or its
    words joined by `detokenize`."""
    if sentence.text is not None:
        text, offsets = sentence.text, sentence.offsets
    else:
        text, offsets = detokenize(sentence.words)
    words = [(word, start, end) for word, (start, end) in zip(sentence.words, offsets)]
    entities = decode_entities(text, words, sentence.tags, [1.0] * len(words))
    return text, [(entity["start"], entity["end"], entity["label"]) for entity in entities]


def read_span_records(path, records, splitter, stats):
    """Sentences of `(line, record_id, text, spans, document)` records, with the misaligned
    spans counted in `stats` and the first of them logged."""
    sentences, misaligned = [], []
    for line, record, text, spans, document in records:
        sentence, moved = spans_to_sentence(text, spans, splitter, (path, line, record), document=document)
        if sentence.words:
            sentences.append(sentence)
        else:
            stats["empty_texts"] = stats.get("empty_texts", 0) + 1
        misaligned.extend(moved)
    stats["misaligned_spans"] = misaligned
    if misaligned:
        logger.warning(
            "%s: %d spans are not on word boundaries (kept exact: %s); %s", path, len(misaligned),
            "a word split at a span's edge, or white space at its edge left out",
            "; ".join(
                f"{'line %s, ' % item['line'] if item['line'] else ''}record {item['record']}: "
                f"{item['label']} {cut(repr(item['text']), 60)} ({item['change']})"
                for item in misaligned[:REPORTED]
            ) + ("; ..." if len(misaligned) > REPORTED else ""),
        )
    if stats.get("empty_texts"):
        logger.warning("%s: %d records with no words were left out", path, stats["empty_texts"])
    return sentences


def _splitter(word_splitter):
    if isinstance(word_splitter, WordSplitter):
        return word_splitter
    if word_splitter == "pretokenizer":
        raise ValueError("Span annotations are read into words by the 'treebank' or 'whitespace' splitter, or a WordSplitter")
    return WordSplitter(word_splitter)


def _json_records(path, text):
    """`(line, object)` of a JSON array (Label Studio's export) or of JSON lines."""
    stripped = text.lstrip("\ufeff").lstrip()
    if not stripped.startswith("["):
        for number, line in enumerate(text.split("\n"), 1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    raise DataFormatError(path, number, f"not valid JSON ({error.msg})", line) from None
        return
    decoder = json.JSONDecoder()
    position, line, counted = text.index("[") + 1, 1, 0
    while True:
        while position < len(text) and text[position] in " \t\n\r,":
            position += 1
        line += text.count("\n", counted, position)
        counted = position
        if position >= len(text):
            raise DataFormatError(path, line, "the JSON array is not closed (a cut file?)")
        if text[position] == "]":
            return
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise DataFormatError(path, line + text.count("\n", counted, error.pos), f"not valid JSON ({error.msg})") from None
        yield line, value


def _read_labelstudio(path, text, word_splitter="treebank", text_key=None):
    """Label Studio's JSON export (an array of tasks, or JSON lines of them)."""
    stats = {"tasks": 0, "from_predictions": 0, "unlabelled_tasks": 0, "other_results": 0}
    records = []
    for line, task in _json_records(path, text):
        stats["tasks"] += 1
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            raise DataFormatError(path, line, "expected a Label Studio task: an object with 'data'", task)
        key = text_key or ("text" if "text" in data else next((k for k, v in data.items() if isinstance(v, str)), None))
        if not isinstance(data.get(key), str):
            raise DataFormatError(path, line, f"the task's data has no text under {key or 'text'!r}", data)
        annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        source = annotations or task.get("predictions") or []
        if not source:
            stats["unlabelled_tasks"] += 1
            continue
        if not annotations:
            stats["from_predictions"] += 1
        record = task.get("id", stats["tasks"])
        spans = []
        for result in source[0].get("result") or []:
            value = result.get("value") if isinstance(result, dict) else None
            if result.get("type") != "labels" or not isinstance(value, dict) or "start" not in value:
                stats["other_results"] += 1
                continue
            labels = value.get("labels") or []
            if len(labels) != 1:
                raise DataFormatError(path, line, f"task {record}: a span needs exactly one label", value)
            spans.append((value["start"], value["end"], labels[0]))
        records.append((line, record, data[key], spans, record))
    for name, what in (("from_predictions", "tasks without an annotation were read from their predictions"),
                       ("unlabelled_tasks", "tasks without an annotation or a prediction were left out"),
                       ("other_results", "results that are not text spans (relations, choices) were left out")):
        if stats[name]:
            logger.warning("%s: %d %s", path, stats[name], what)
    return read_span_records(path, records, _splitter(word_splitter), stats), stats


def _read_doccano(path, text, word_splitter="treebank", text_key="text"):
    """doccano's JSON lines: `{"text": ..., "label": [[start, end, label], ...]}`, or
    `"entities"` of `{"start_offset", "end_offset", "label"}`."""
    stats, records = {}, []
    for line, record in _json_records(path, text):
        if not isinstance(record, dict) or not isinstance(record.get(text_key), str):
            raise DataFormatError(path, line, f"expected an object with the text under {text_key!r}", record)
        record_id = record.get("id", line)
        if "entities" in record:
            entities = record["entities"]
            if not isinstance(entities, list) or not all(isinstance(e, dict) and {"start_offset", "end_offset", "label"} <= set(e) for e in entities):
                raise DataFormatError(path, line, "'entities' must be objects with start_offset, end_offset and label", entities)
            spans = [(e["start_offset"], e["end_offset"], e["label"]) for e in entities]
        else:
            labels = record.get("label", [])
            if not isinstance(labels, list) or not all(isinstance(item, list) and len(item) == 3 for item in labels):
                raise DataFormatError(path, line, "'label' must be a list of [start, end, label]", labels)
            spans = [tuple(item) for item in labels]
        records.append((line, record_id, record[text_key], spans, record_id))
    return read_span_records(path, records, _splitter(word_splitter), stats), stats


def brat_files(path):
    """The `.ann` files of a brat folder (sorted), or the one `.ann` file given (or the one
    beside a `.txt`)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.ann"))
        if not files:
            raise DataFormatError(path, None, "a folder without brat .ann files")
        return files
    return [path.with_suffix(".ann")]


def _read_brat(path, text=None, word_splitter="treebank"):
    """brat standoff: each `.ann` file's entities (`T` lines) over its `.txt`, one sentence a
    line of the text, the file's name its document."""
    stats, records = {"files": 0, "other_annotations": 0}, []
    for ann in brat_files(path):
        source = ann.with_suffix(".txt")
        if not source.is_file() or not ann.is_file():
            raise DataFormatError(ann, None, f"a brat document needs both {source.name} and {ann.name}")
        stats["files"] += 1
        content = source.read_text(encoding="utf-8-sig")
        spans = []
        for number, entry in enumerate(ann.read_text(encoding="utf-8-sig").split("\n"), 1):
            if not entry.strip():
                continue
            if not entry.startswith("T"):
                stats["other_annotations"] += 1  # relations, events, attributes, notes
                continue
            fields = entry.split("\t")
            parts = fields[1].split(" ") if len(fields) >= 2 else []
            if len(parts) != 3 or ";" in fields[1] or not parts[1].isdigit() or not parts[2].isdigit():
                why = "a discontinuous entity, which IOB2 tags cannot hold" if ";" in entry else "expected 'T<n><TAB><type> <start> <end><TAB><text>'"
                raise DataFormatError(ann, number, why, entry)
            start, end = int(parts[1]), int(parts[2])
            if len(fields) >= 3 and content[start:end].replace("\n", " ") != fields[2]:  # brat shows a line break as a space
                raise DataFormatError(ann, number, f"the entity's text is not the text at {start}-{end} of {source.name}", fields[2])
            spans.append((start, end, parts[0], number))
        spans.sort()
        line_start, next_span = 0, 0
        for number, sentence_text in enumerate(content.split("\n"), 1):
            line_end = line_start + len(sentence_text)
            inside = []
            while next_span < len(spans) and spans[next_span][0] <= line_end:  # the spans that start on this line
                s, e, label, entry_line = spans[next_span]
                if e > line_end:
                    raise DataFormatError(ann, entry_line, f"an entity that crosses the end of line {number} of {source.name}", content[s:e])
                inside.append((s - line_start, e - line_start, label))
                next_span += 1
            if sentence_text.strip():
                records.append((number, f"{ann.stem}:{number}", sentence_text, inside, ann.stem))
            line_start = line_end + 1
    if stats["other_annotations"]:
        logger.warning("%s: %d brat annotations that are not entities were left out", path, stats["other_annotations"])
    return read_span_records(path, records, _splitter(word_splitter), stats), stats


def record_ids(sentences):
    """Each sentence's record id: its document id where every sentence has its own (a record
    read from an annotation tool), else its 1-based position."""
    documents = [sentence.document for sentence in sentences]
    if None not in documents and len(set(map(str, documents))) == len(documents):
        return documents
    return list(range(1, len(sentences) + 1))


def labelstudio_result(index, start, end, label, text, score=None):
    """One Label Studio `labels` result: a span of the `text` field, tagged `label`."""
    result = {
        "id": f"kerasner-{index}", "from_name": "label", "to_name": "text", "type": "labels",
        "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
    }
    if score is not None:
        result["score"] = score
    return result


def write_labelstudio(sentences, path):
    """Label Studio tasks (a JSON array), each sentence's entities as its annotation."""
    tasks = []
    for record, sentence in zip(record_ids(sentences), sentences):
        text, spans = sentence_spans(sentence)
        result = [labelstudio_result(i, start, end, label, text) for i, (start, end, label) in enumerate(spans)]
        tasks.append({"id": record, "data": {"text": text}, "annotations": [{"result": result}]})
    Path(path).write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_doccano(sentences, path):
    """doccano JSON lines: `{"id", "text", "label": [[start, end, label], ...]}`."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for record, sentence in zip(record_ids(sentences), sentences):
            text, spans = sentence_spans(sentence)
            handle.write(json.dumps({"id": record, "text": text, "label": [list(span) for span in spans]}, ensure_ascii=False) + "\n")


def write_brat(sentences, folder):
    """A brat folder: a `.txt` and an `.ann` file a document, one sentence a line."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    documents = {}
    for sentence in sentences:
        documents.setdefault("document" if sentence.document is None else str(sentence.document), []).append(sentence)
    for name, members in documents.items():
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        lines, entries, position = [], [], 0
        for sentence in members:
            text, spans = sentence_spans(sentence)
            for start, end, label in spans:
                entries.append(f"T{len(entries) + 1}\t{label} {position + start} {position + end}\t{text[start:end]}\n")
            lines.append(text)
            position += len(text) + 1
        (folder / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / f"{stem}.ann").write_text("".join(entries), encoding="utf-8")
