"""Reading and writing the hub's JSON lines and annotation tools' exports: Label Studio, doccano, brat."""

import filecmp
import json

import pytest

import kerasner
from kerasner.commands import convert
from kerasner.formats import detect_format
from kerasner.span_formats import sentence_spans

SAMPLE = kerasner.read_sentences(kerasner.sample_data_path())


def entity_texts(sentences):
    """Each sentence's text and its entities' (text, label), the way a user checks spans."""
    out = []
    for sentence in sentences:
        text, spans = sentence_spans(sentence)
        out.append((text, [(text[start:end], label) for start, end, label in spans]))
    return out


def assert_same_files(first, second):
    if first.is_dir():
        comparison = filecmp.dircmp(first, second)
        assert not (comparison.diff_files or comparison.left_only or comparison.right_only)
    else:
        assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("format", ["conll", "jsonl", "hf-jsonl", "labelstudio", "doccano", "brat"])
def test_every_format_reads_back_what_it_wrote(format, tmp_path):
    path = tmp_path / ("corpus" if format == "brat" else f"corpus.{format}")
    kerasner.write_sentences(SAMPLE, path, format=format)
    back = kerasner.read_sentences(path)  # the format is detected
    assert back.stats["format"] == format
    assert [(s.words, s.tags) for s in back] == [(s.words, s.tags) for s in SAMPLE]
    assert entity_texts(back) == entity_texts(SAMPLE)
    again = tmp_path / ("again" if format == "brat" else f"again.{format}")
    kerasner.write_sentences(back, again, format=format)
    if format != "hf-jsonl":  # its dataset_info.json sits beside both
        assert_same_files(path, again)


def test_spans_off_word_boundaries_are_kept_exact_and_reported(tmp_path, caplog):
    text = "Visit New York-based Acme Corp now.  Paris"
    records = [
        {"id": 1, "text": text, "label": [[6, 14, "geo"], [21, 30, "org"], [36, 42, "geo"]]},
        {"id": 2, "text": "Nothing here.", "label": []},
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    sentences = kerasner.read_sentences(path, format="doccano")
    first = sentences[0]
    # "York-based" is one treebank word: it is split where the span ends.
    assert first.words == ("Visit", "New", "York", "-based", "Acme", "Corp", "now", ".", "Paris")
    assert first.tags == ("O", "B-geo", "I-geo", "O", "B-org", "I-org", "O", "O", "B-geo")
    moved = sentences.stats["misaligned_spans"]
    assert [(m["record"], m["text"], m["change"]) for m in moved] == [
        (1, "New York", "a word split at its edge"),
        (1, " Paris", "white space at its edge left out"),
    ]
    assert "2 spans are not on word boundaries" in caplog.text and "'New York'" in caplog.text
    # Read the way `kerasner train` reads it, the spans are the file's (the white space aside).
    assert sentence_spans(first)[1] == [(6, 14, "geo"), (21, 30, "org"), (37, 42, "geo")]


def test_a_wrong_export_is_counted_by_its_misaligned_spans(tmp_path):
    kerasner.write_sentences(SAMPLE, tmp_path / "right.jsonl", format="doccano")
    wrong = []
    for number, line in enumerate((tmp_path / "right.jsonl").read_text().splitlines()):
        record = json.loads(line)
        if number % 4 == 0 and record["label"]:
            record["label"][0][1] -= 1  # the first entity loses its last character
        wrong.append(json.dumps(record))
    (tmp_path / "wrong.jsonl").write_text("\n".join(wrong) + "\n")
    shortened = sum(1 for n, line in enumerate(wrong) if n % 4 == 0 and json.loads(line)["label"])
    moved = kerasner.read_sentences(tmp_path / "wrong.jsonl").stats["misaligned_spans"]
    assert len(moved) == shortened > 0 and all(m["change"] == "a word split at its edge" for m in moved)


@pytest.mark.parametrize(
    "records, message",
    [
        ([{"text": "Ann Lee", "label": [[0, 3, "per"], [2, 7, "per"]]}], "line 1: record 1: overlapping spans [0, 3, 'per'] and [2, 7, 'per']"),
        ([{"text": "Ann", "label": [[0, 9, "per"]]}], "line 1: record 1: a span needs 0 <= start < end <= 3 (its text's length). Received: [0, 9, 'per']"),
        ([{"text": "Ann  Lee", "label": [[3, 5, "per"]]}], "a span of white space only"),
        ([{"text": "Ann", "label": [[0, 3, "a person"]]}], "a span's label must be a name without white space"),
        ([{"text": "Ann", "label": [0, 3, "per"]}], "'label' must be a list of [start, end, label]"),
    ],
)
def test_bad_spans_stop_reading_on_one_line(records, message, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    with pytest.raises(kerasner.DataFormatError, match="bad.jsonl") as error:
        kerasner.read_sentences(path, format="doccano")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_labelstudio_reads_annotations_then_predictions_and_counts_the_rest(tmp_path, caplog):
    def task(number, annotations=(), predictions=()):
        return {"id": number, "data": {"text": "Ann met Bo"}, "annotations": list(annotations), "predictions": list(predictions)}

    def result(start, end, label, kind="labels"):
        return {"type": kind, "from_name": "label", "to_name": "text", "value": {"start": start, "end": end, "labels": [label]}}

    tasks = [
        task(1, [{"result": [result(0, 3, "per"), {"type": "relation", "from_id": "a", "to_id": "b"}]}], [{"result": [result(8, 10, "per")]}]),
        task(2, [{"was_cancelled": True, "result": [result(8, 10, "org")]}], [{"result": [result(8, 10, "per")]}]),
        task(3),
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, indent=2))
    sentences = kerasner.read_sentences(path)
    assert [s.tags for s in sentences] == [("B-per", "O", "O"), ("O", "O", "B-per")]
    assert [s.document for s in sentences] == [1, 2]
    stats = sentences.stats
    assert (stats["tasks"], stats["from_predictions"], stats["unlabelled_tasks"], stats["other_results"]) == (3, 1, 1, 1)
    assert "1 tasks without an annotation were read from their predictions" in caplog.text
    path.write_text(json.dumps(tasks, indent=2)[:-40])
    with pytest.raises(kerasner.DataFormatError, match=r"export.json, line \d+: "):
        kerasner.read_sentences(path)


def test_brat_reads_each_line_as_a_sentence_of_its_document(tmp_path):
    (tmp_path / "doc.txt").write_text("Ann Lee flew.\n\nBo stayed in Oslo.\n")
    (tmp_path / "doc.ann").write_text("T1\tper 0 7\tAnn Lee\nT2\tgeo 28 32\tOslo\nR1\trel Arg1:T1 Arg2:T2\n#1\tNote T1\tx\n")
    sentences = kerasner.read_sentences(tmp_path)
    assert [s.tags for s in sentences] == [("B-per", "I-per", "O", "O"), ("O", "O", "O", "B-geo", "O")]
    assert {s.document for s in sentences} == {"doc"} and sentences.stats["other_annotations"] == 2
    (tmp_path / "doc.ann").write_text("T1\tper 0 3;4 7\tAnn Lee\n")
    with pytest.raises(kerasner.DataFormatError, match="doc.ann, line 1: a discontinuous entity"):
        kerasner.read_sentences(tmp_path / "doc.ann")
    (tmp_path / "doc.ann").write_text("T1\tgeo 0 7\tAnn Lee\nT2\tper 8 17\tflew.  Bo\n")
    with pytest.raises(kerasner.DataFormatError, match="doc.ann, line 2: an entity that crosses the end of line 1 of doc.txt"):
        kerasner.read_sentences(tmp_path)
    (tmp_path / "doc.ann").write_text("T1\tper 0 7\tAnn Le\n")
    with pytest.raises(kerasner.DataFormatError, match="the entity's text is not the text at 0-7 of doc.txt"):
        kerasner.read_sentences(tmp_path / "doc.txt", format="brat")


def test_hub_json_lines_take_their_names_from_dataset_info_or_the_option(tmp_path):
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"id": "0", "tokens": ["Ann", "Lee", "in", "Oslo"], "ner_tags": [1, 2, 0, 3]}) + "\n")
    with pytest.raises(kerasner.DataFormatError, match="integer tags need their names"):
        kerasner.read_sentences(path)
    assert kerasner.read_sentences(path, label_names=names)[0].tags == ("B-PER", "I-PER", "O", "B-LOC")
    assert kerasner.read_sentences(path, label_names=",".join(names))[0].tags == ("B-PER", "I-PER", "O", "B-LOC")
    info = {"features": {"ner_tags": {"feature": {"names": names, "_type": "ClassLabel"}, "_type": "Sequence"}}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(info))
    sentences = kerasner.read_sentences(path)
    assert sentences.stats["format"] == "hf-jsonl" and sentences[0].tags == ("B-PER", "I-PER", "O", "B-LOC")
    path.write_text(json.dumps({"tokens": ["Ann"], "ner_tags": [7]}) + "\n")
    with pytest.raises(kerasner.DataFormatError, match="line 1: a tag id that is not one of the 5 label names' .0 to 4.. Received: 7"):
        kerasner.read_sentences(path)


@pytest.mark.parametrize(
    "first_line, expected",
    [
        ('[{"id": 1, "data": {"text": "a"}}]', "labelstudio"),
        ('{"data": {"text": "a"}, "annotations": []}', "labelstudio"),
        ('{"text": "a", "label": []}', "doccano"),
        ('{"text": "a", "entities": []}', "doccano"),
        ('{"tokens": ["a"], "ner_tags": [0]}', "hf-jsonl"),
        ('{"tokens": ["a"], "tags": ["O"]}', "jsonl"),
    ],
)
def test_formats_are_detected_from_the_content(first_line, expected):
    assert detect_format(first_line + "\n") == expected


def test_convert_command_reports_on_one_line(tmp_path, capsys):
    assert convert.main(["--input", str(kerasner.sample_data_path()), "--to", "labelstudio", "--output", str(tmp_path / "tasks.json")]) == 0
    assert capsys.readouterr().out.startswith("read 400 sentences, 4,451 words, 932 entities (conll, iob2); wrote")
    argv = ["--input", str(tmp_path / "tasks.json"), "--to", "brat", "--output", str(tmp_path / "brat")]
    assert convert.main(argv) == 0 and len(list((tmp_path / "brat").glob("*.ann"))) == 400  # a document a task
    (tmp_path / "bad.jsonl").write_text('{"text": "Ann", "label": [[0, 9, "per"]]}\n')
    assert convert.main(["--input", str(tmp_path / "bad.jsonl"), "--to", "conll", "--output", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl, line 1: record 1: a span needs 0 <= start < end <= 3" in err and err.count("\n") == 1
