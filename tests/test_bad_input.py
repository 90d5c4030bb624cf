"""Every bad input to train.py ends with one `error:` line naming the file, the line and the value, and status 2."""

import json
import random
import sys
from pathlib import Path

import pytest

import kerasner

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from kerasner.commands import train  # noqa: E402

CONLL = "John\tB-per\nSmith\tI-per\nvisited\tO\nParis\tB-geo\n.\tO\n\nMary\tB-per\nleft\tO\n"


def gmb_csv(rows=50, bad_row=None):
    lines = ["Sentence #,Word,POS,Tag"]
    for i in range(rows):
        lines.append(f"Sentence: {i + 1},John,NNP,B-per" if i % 5 == 0 else "," + ("x,NN,O,extra" if i == bad_row else "x,NN,O"))
    return "\n".join(lines) + "\n"


def saved_model(tmp_path, sample_features):
    model = sample_features[0]
    model.save_pretrained(tmp_path / "saved")
    return tmp_path / "saved"


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# name -> (files {name: text or bytes}, arguments ({tmp} is the folder), parts of the error line)
CASES = {
    "CR-only CSV with an empty cell": (
        {"d.csv": "Sentence #,Word,POS,Tag\rSentence: 1,John,NNP,B-per\r,,VBD,O\r"},
        ["--data", "{tmp}/d.csv"], ["d.csv, line 3", "empty cell in column 'Word'"],
    ),
    "labels only in the validation file": (
        {"t.conll": CONLL, "v.conll": CONLL + "\nUN\tB-org\nmet\tO\n"},
        ["--train", "{tmp}/t.conll", "--validation", "{tmp}/v.conll"], ["v.conll", "B-org, I-org", "--allow-new-labels"],
    ),
    "an empty word": ({"d.conll": CONLL + "\tO\n"}, ["--data", "{tmp}/d.conll"], ["d.conll, line 9", "an empty word", "'\\tO'"]),
    "an empty tag": ({"d.conll": CONLL + "Paris\t \n"}, ["--data", "{tmp}/d.conll"], ["d.conll, line 9", "an empty tag"]),
    "a file that mixes tag schemes": (
        {"d.conll": "John\tB-per\nSmith\tE-per\n\nParis\tU-geo\n"}, ["--data", "{tmp}/d.conll"],
        ["d.conll, line 4", "outside the iobes scheme", "'U-geo'"],
    ),
    "a CSV parser error at line 43": ({"d.csv": gmb_csv(60, bad_row=41)}, ["--data", "{tmp}/d.csv"], ["d.csv, line 43", "Expected 4 fields"]),
    "a folder as the data file": ({"folder/x": ""}, ["--data", "{tmp}/folder"], ["folder: a folder without brat .ann files"]),
    "a missing data file": ({}, ["--data", "{tmp}/nothing.csv"], ["nothing.csv: no such file"]),
    "bytes of another encoding": (
        {"d.conll": "Jos\xe9\tB-per\n".encode("latin1") + b"\x81\tO\n"}, ["--data", "{tmp}/d.conll", "--encoding", "utf-8"],
        ["d.conll, line 1", "--encoding latin1"],
    ),
    "UTF-16 without a byte-order mark": (
        {"d.conll": CONLL.encode("utf-16-le")}, ["--data", "{tmp}/d.conll"], ["d.conll, line 1", "--encoding utf-16-le"],
    ),
    "a 2 MB one-word file": ({"d.conll": "x" * 2_000_000 + "\n"}, ["--data", "{tmp}/d.conll"], ["d.conll, line 1", "(2,000,002 characters)"]),
    "an unknown encoding": ({"d.conll": CONLL}, ["--data", "{tmp}/d.conll", "--encoding", "klingon"], ["d.conll: unknown encoding", "klingon"]),
    "a CoNLL tag column that is not an index": (
        {"d.conll": CONLL}, ["--data", "{tmp}/d.conll", "--tag-column", "Tag"], ["d.conll", "tag_column='Tag'"],
    ),
    "a JSON line with a number as a tag": (
        {"d.jsonl": '{"tokens": ["John", "ran"], "tags": ["B-per", 0]}\n'}, ["--data", "{tmp}/d.jsonl"], ["d.jsonl, line 1", "every tag must be a string"],
    ),
    "a config file that is not JSON": ({"c.json": "{epochs: 2"}, ["--config", "{tmp}/c.json"], ["c.json: not valid JSON"]),
    "a config file with an unknown key": ({"c.json": '{"epochz": 2}'}, ["--config", "{tmp}/c.json"], ["c.json: unknown settings ['epochz']"]),
    "a model folder that is not a model": ({"m/notes.txt": "hi"}, ["--model", "{tmp}/m"], ["m: not a model folder"]),
    "a model folder that does not exist": ({}, ["--model", "{tmp}/no/such/model"], ["no/such/model: no such model folder"]),
    "zero epochs": ({}, ["--epochs", "0"], ["epochs"]),
}
MODEL_CASES = {
    "a truncated head.weights.npz": ("head.weights.npz", ["head.weights.npz: cannot load the head weights"]),
    "a truncated tokenizer.json": ("tokenizer.json", ["saved: cannot load the tokenizer"]),
    "a truncated tf_model.h5": ("tf_model.h5", ["saved: cannot load the saved encoder", "truncated", "HDF5"]),
}


def error_line(capsys, argv):
    status = train.main(argv + ["--verbose", "0"])
    lines = capsys.readouterr().err.strip().splitlines()
    return status, lines


def check_one_line(status, lines, parts):
    assert status == 2, lines
    assert lines and lines[-1].startswith("error: "), lines
    assert len(lines[-1]) < 400, lines[-1]
    assert not any("Traceback" in line for line in lines)
    for part in parts:
        assert part in lines[-1], (part, lines[-1])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_error_line(case, tmp_path, capsys):
    files, arguments, parts = CASES[case]
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content, encoding="utf-8", newline="")
    argv = [argument.format(tmp=tmp_path) for argument in arguments] + ["--output", str(tmp_path / "run")]
    check_one_line(*error_line(capsys, argv), parts)


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_a_broken_model_folder_is_one_error_line(case, tmp_path, capsys, sample_features):
    name, parts = MODEL_CASES[case]
    folder = saved_model(tmp_path, sample_features)
    truncate(folder / name)
    argv = ["--model", str(folder), "--output", str(tmp_path / "run"), "--epochs", "1"]
    check_one_line(*error_line(capsys, argv), parts)
    with pytest.raises(ValueError, match="cannot load"):
        kerasner.BertTokenClassifier.from_pretrained(folder)


def test_cr_only_line_endings_are_lines(tmp_path):
    path = tmp_path / "d.conll"
    path.write_text(CONLL.replace("\n", "\r"), newline="")
    sentences = kerasner.read_sentences(path)
    assert [s.words for s in sentences] == [("John", "Smith", "visited", "Paris", "."), ("Mary", "left")]
    csv_path = tmp_path / "d.csv"
    csv_path.write_text(gmb_csv(10).replace("\n", "\r"), newline="")
    assert kerasner.read_sentences(csv_path).stats["words"] == 10


def test_cells_are_stripped_and_counted(tmp_path, caplog):
    path = tmp_path / "d.csv"
    path.write_text("Sentence #,Word,POS,Tag\nSentence: 1, John ,NNP,B-per \n,ran,VBD,O\n")
    sentences = kerasner.read_sentences(path)
    assert sentences[0].words == ("John", "ran") and sentences[0].tags == ("B-per", "O")
    assert sentences.stats["stripped_cells"] == 2 and "stripped spaces around 2 cells" in caplog.text


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "d.conll"
    path.write_bytes(CONLL.encode("utf-16"))
    sentences = kerasner.read_sentences(path)
    assert sentences.stats["encoding"] == "utf-16" and sentences.stats["words"] == 7


def test_validation_without_entities_is_scored_zero_with_a_warning(tmp_path, capsys):
    (tmp_path / "t.conll").write_text(CONLL * 20)
    (tmp_path / "v.conll").write_text("the\tO\ncity\tO\n\nit\tO\nwas\tO\n")
    argv = ["--train", str(tmp_path / "t.conll"), "--validation", str(tmp_path / "v.conll"), "--epochs", "1",
            "--output", str(tmp_path / "run"), "--verbose", "0"]
    assert train.main(argv) == 0
    assert "the validation sentences hold no entity" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["entity"]["f1"] == 0.0 and metrics["validation_sentences"] == 2


def test_a_report_without_any_entity_is_written(tmp_path):
    from kerasner.commands.run_report import _report

    assert "no entities" in _report([["O", "O"]], [["O", "O"]])


def oracle_words(format, text):
    """Words a faithful reader must return for a file it accepts, counted without the reader."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if format == "conll":
        return sum(1 for line in lines if line.strip() and line.split()[0] != "-DOCSTART-")
    if format == "jsonl":
        return sum(len(json.loads(line)["tokens"]) for line in lines if line.strip())
    rows = [line for line in lines[1:] if line.strip().strip(",")]
    return len(rows)


def mutate(text, rng):
    """A valid file with a few random edits of the kinds real files have."""
    edits = [
        lambda t, i: t[:i] + rng.choice(["\r", "\r\n", "\t", " ", "", "\n", "\n\n", ",", '"', "\x00", "\ufeff", "\u2028", "é"]) + t[i:],
        lambda t, i: t[:i] + t[i + 1 :],
        lambda t, i: t[:i] + rng.choice(["B-", "I-", "O", "E-", "-DOCSTART-", "B-per ", " O"]) + t[i:],
        lambda t, i: t.replace("\n", rng.choice(["\r", "\r\n", "\n \n"]), 1),
    ]
    for _ in range(rng.randint(0, 3)):
        text = rng.choice(edits)(text, rng.randrange(max(len(text), 1)))
    return text


def make_file(format, rng):
    sentences = [[(rng.choice(["John", "Paris", "the", "UN", "ran", "5,000", "é", "\"q\""]), rng.choice(["O", "B-per", "I-per", "B-geo"]))
                  for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 5))]
    if format == "conll":
        return "\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences) + "\n"
    if format == "jsonl":
        return "".join(json.dumps({"tokens": [w for w, _ in s], "tags": [t for _, t in s]}) + "\n" for s in sentences)
    rows = ["Sentence #,Word,POS,Tag"]
    for number, sentence in enumerate(sentences, 1):
        for index, (word, tag) in enumerate(sentence):
            word = '"' + word.replace('"', '""') + '"' if "," in word or '"' in word else word
            rows.append(f"{'Sentence: %d' % number if index == 0 else ''},{word},NN,{tag}")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("format", ["conll", "jsonl", "csv"])
def test_fuzzed_files_are_read_whole_or_refused_on_one_line(format, tmp_path):
    """Each format: random files with random edits; no traceback, and no word silently lost."""
    rng, refused, read = random.Random(format), 0, 0
    count = 700 if format != "csv" else 600  # 2,000 files in all
    for number in range(count):
        text = mutate(make_file(format, rng), rng)
        path = tmp_path / f"{number}.{format}"
        path.write_bytes(text.encode("utf-8"))
        try:
            sentences = kerasner.read_sentences(path, format=format)
        except (ValueError, OSError) as error:
            message = str(error)
            assert str(path) in message and "\n" not in message and len(message) < 400, (text, message)
            refused += 1
            continue
        read += 1
        try:
            expected = oracle_words(format, text)
        except ValueError:
            continue  # text the oracle cannot count (the reader skipped nothing it could see)
        assert sentences.stats["words"] == expected, (text, [s.words for s in sentences])
    assert read > count // 4 and refused > 10
