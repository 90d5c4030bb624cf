"""Train the tiny model with scripts/train.py, then predict raw text and evaluate with the other scripts."""

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasner
from kerasner.entity_predictor import decode_entities

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from kerasner.commands import evaluate, export  # noqa: E402
from kerasner.commands import predict  # noqa: E402
from kerasner.commands import train  # noqa: E402

TEXT = "Yesterday Anna Keller flew from Lisbon to Oslo , and Norlund Energy said it hired Omar Haddad in 2024 ."


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    output = tmp_path_factory.mktemp("e2e") / "run"
    assert train.main(["--output", str(output), "--epochs", "8", "--verbose", "0", "--tensorboard", str(output / "logs")]) == 0
    return output


def test_predicted_spans_point_into_the_original_text(trained):
    predictor = kerasner.EntityPredictor.from_pretrained(trained / "best")
    texts = [TEXT, "", "  Mei Lin visited\tKrakow in March.  ", "Shares of Atlas Rail fell sharply ."]
    results = predictor(texts)
    assert len(results) == 4 and results[1] == []
    for text, entities in zip(texts, results):
        for entity in entities:
            assert entity["text"] == text[entity["start"] : entity["end"]]
            assert entity["label"] in {"per", "geo", "org", "tim"} and 0 < entity["score"] <= 1
    found = {(e["text"], e["label"]) for e in results[0]}
    assert ("Anna Keller", "per") in found and ("Lisbon", "geo") in found  # learnt from the sample corpus


def test_long_text_is_windowed_and_every_span_is_valid(trained):
    predictor = kerasner.EntityPredictor.from_pretrained(trained / "best", max_length=32, stride=8)
    text = " ".join([TEXT] * 30)  # about 600 words
    entities = predictor(text)
    assert sum(e["text"] == "Anna Keller" for e in entities) >= 25
    assert all(e["text"] == text[e["start"] : e["end"]] for e in entities)
    assert [e["start"] for e in entities] == sorted(e["start"] for e in entities)


def test_evaluate_reproduces_the_metrics_of_train(trained, tmp_path):
    assert evaluate.main(["--model", str(trained / "best"), "--data", str(trained / "validation.jsonl"), "--output", str(tmp_path)]) == 0
    written = json.loads((trained / "metrics.json").read_text())
    evaluated = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("entity", "entity_strict"):
        assert evaluated[key]["per_type"] == written[key]["per_type"]
        assert {k: evaluated[key][k] for k in ("precision", "recall", "f1", "support")} == {
            k: written[key][k] for k in ("precision", "recall", "f1", "support")
        }
    assert evaluated["token_accuracy"] == written["token_accuracy"]
    assert (tmp_path / "confusion.png").is_file() and (tmp_path / "report.txt").is_file()


def test_evaluate_decodes_by_viterbi_or_argmax(trained, tmp_path):
    data = ["--model", str(trained / "best"), "--data", str(trained / "validation.jsonl")]
    assert evaluate.main(data + ["--output", str(tmp_path / "v")]) == 0
    assert evaluate.main(data + ["--decode", "argmax", "--output", str(tmp_path / "a")]) == 0
    viterbi, argmax = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in "va")
    assert (viterbi["decode"], argmax["decode"]) == ("viterbi", "argmax")
    # Valid IOB2 tags: seqeval's lenient and strict modes find the same entities.
    assert viterbi["entity"] == viterbi["entity_strict"]


def test_predict_script_reads_text_and_stdin(trained, capsys, monkeypatch):
    assert predict.main(["--model", str(trained / "best"), "--text", TEXT]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["text"] == TEXT and isinstance(line["entities"], list)
    assert predict.main(["--model", str(trained / "best"), "--text", TEXT, "--decode", "argmax"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == TEXT
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Mei Lin met Kenji Sato .\n\nOslo\n"), encoding="utf-8"))
    assert predict.main(["--model", str(trained / "best")]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["text"] for x in lines] == ["Mei Lin met Kenji Sato .", "", "Oslo"]


def mixed_lines(count=10_000, seed=0):
    """Lines a user's file may hold: empty, very long, emoji, control characters, right-to-left
    text, lone CRs, line separators that are not line feeds."""
    rng = np.random.default_rng(seed)
    pieces = [
        "Anna Keller flew to Oslo.", "", "Mei Lin 😂👍🏽 visited Krakow!!!", "a\x00b\x1bc\x0bd\x0ce\x1cf",
        "مرحبا يا أنا في القاهرة", "one\rtwo\rthree", "x\u2028y\u2029z\x85w", "   ", "Omar Haddad\t(Norlund Energy)",
        "张伟住在北京。", "\u200fRTL mark and \u202eoverride",
    ]
    lines = [pieces[i] for i in rng.integers(0, len(pieces), count)]
    for position in (17, 5_000, 9_998):
        lines[position] = " ".join(["Anna Keller visited Lisbon ."] * 1_250)  # 5,000 words
    lines[0] = "\ufeff" + lines[0]  # a byte-order mark starts the file
    return lines


def test_predict_writes_one_line_per_input_line_in_order(trained, tmp_path, capsys, monkeypatch):
    lines = mixed_lines()
    data = ("\n".join(lines) + "\n").encode("utf-8")
    (tmp_path / "in.txt").write_bytes(data)
    model = ["--model", str(trained / "best"), "--batch-size", "64"]
    assert predict.main(model + ["--input", str(tmp_path / "in.txt")]) == 0
    from_file = capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert predict.main(model) == 0
    from_stdin = capsys.readouterr().out
    assert from_file == from_stdin
    out = [json.loads(line) for line in from_file.split("\n")[:-1]]
    expected = [lines[0][1:]] + lines[1:]
    assert [line["text"] for line in out] == expected
    for line in out:
        assert all(e["text"] == line["text"][e["start"] : e["end"]] for e in line["entities"])
    # A 5,000-word line is read in windows from its first word to its last.
    found = out[5_000]["entities"]
    assert sum(e["text"] == "Lisbon" for e in found) == 1_250 and sum(e["text"].startswith("Anna Keller") for e in found) >= 1_000


def test_predict_takes_words_that_are_already_split(trained, tmp_path, capsys, monkeypatch):
    (tmp_path / "words.conll").write_text("-DOCSTART-\n\nAnna\tX\nKeller\nflew\n\nOslo\n")
    assert predict.main(["--model", str(trained / "best"), "--input", str(tmp_path / "words.conll"), "--input-format", "conll"]) == 0
    blocks = capsys.readouterr().out.split("\n\n")
    assert [[row.split("\t")[0] for row in block.splitlines()] for block in blocks[:2]] == [["Anna", "Keller", "flew"], ["Oslo"]]
    assert blocks[0].splitlines()[0] == "Anna\tB-per"
    records = '{"id": 3, "tokens": ["Anna", "Keller"]}\n{"words": ["Oslo"], "id": 4}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(records.encode()), encoding="utf-8"))
    assert predict.main(["--model", str(trained / "best"), "--input-format", "jsonl"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], len(r["tags"])) for r in out] == [(3, 2), (4, 1)] and out[0]["tags"][0] == "B-per"


def test_predict_writes_each_output_format_and_passes_ids_through(trained, tmp_path, capsys):
    records = [{"id": 7, "text": TEXT, "source": "mail"}, {"id": "w", "tokens": ["Anna", "Keller", "flew"]}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    base = ["--model", str(trained / "best"), "--input", str(tmp_path / "in.jsonl"), "--input-format", "jsonl"]
    outputs = {}
    for output_format in ("jsonl", "conll", "doccano", "labelstudio"):
        assert predict.main(base + ["--output-format", output_format]) == 0
        outputs[output_format] = capsys.readouterr().out
    found = [json.loads(line) for line in outputs["jsonl"].splitlines()]
    assert [(r["id"], r.get("source")) for r in found] == [(7, "mail"), ("w", None)] and "entities" in found[0]
    entities = found[0]["entities"]
    doccano = [json.loads(line) for line in outputs["doccano"].splitlines()]
    assert doccano[0] == {"id": 7, "source": "mail", "text": TEXT, "label": [[e["start"], e["end"], e["label"]] for e in entities]}
    tasks = json.loads(outputs["labelstudio"])
    assert [task["id"] for task in tasks] == [7, "w"] and tasks[0]["data"] == {"text": TEXT, "source": "mail"}
    results = tasks[0]["predictions"][0]["result"]
    assert [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0], r["score"]) for r in results] == [
        (e["start"], e["end"], e["label"], e["score"]) for e in entities
    ]
    conll = [block.splitlines() for block in outputs["conll"].split("\n\n") if block]
    assert [row.split("\t")[0] for row in conll[0]] == [w for w, _, _ in kerasner.WordSplitter()(TEXT)]
    assert sum(row.endswith("\tB-" + e["label"]) for e in entities for row in conll[0]) >= len(entities) > 0
    # --min-score leaves out the entities below it.
    cut = sorted(e["score"] for e in entities)[len(entities) // 2]
    assert predict.main(base + ["--min-score", str(cut)]) == 0
    kept = json.loads(capsys.readouterr().out.splitlines()[0])["entities"]
    assert kept == [e for e in entities if e["score"] >= cut]


def test_predicted_labelstudio_tasks_train_a_model(trained, tmp_path, capsys):
    texts = [line.split(" , ")[0] for line in [TEXT] * 2] + [
        "Omar Haddad met Anna Keller in Oslo on Monday .", "Norlund Energy hired Mei Lin in Lisbon .",
    ] * 10
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    argv = ["--model", str(trained / "best"), "--input", str(tmp_path / "texts.txt"), "--output-format", "labelstudio"]
    assert predict.main(argv) == 0
    (tmp_path / "tasks.json").write_text(capsys.readouterr().out)
    sentences = kerasner.read_sentences(tmp_path / "tasks.json")  # pre-annotations read as labels
    assert sentences.stats["format"] == "labelstudio" and sentences.stats["from_predictions"] == len(texts)
    assert sum(tag != "O" for sentence in sentences for tag in sentence.tags) > 0
    run = tmp_path / "run"
    assert train.main(["--data", str(tmp_path / "tasks.json"), "--epochs", "1", "--verbose", "0", "--output", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["sources"]["data"]["format"] == "labelstudio" and metrics["train_sentences"] == 17
    # Raw text is scored on the tasks' own text, which the model splits into the words it trained on.
    assert metrics["raw_text"]["split_as_labelled"] == metrics["validation_sentences"] == 5


@pytest.mark.parametrize(
    "data, message",
    [
        (b"fine\n\xff\xfe bad bytes\n", "in.txt, line 2: bytes that are not UTF-8"),
        (b'{"tokens": "not a list"}\n', "in.txt, line 1: expected an object with a 'text' string or a list of non-empty words"),
        (b'{"id": 1, "text": 5}\n', "in.txt, line 1: 'text' must be a string"),
        (b'{"text": "fine"}\n[1]\n', "in.txt, line 2: expected a JSON object"),
    ],
)
def test_predict_bad_input_is_one_line(trained, tmp_path, capsys, data, message):
    (tmp_path / "in.txt").write_bytes(data)
    fmt = ["--input-format", "jsonl"] if data.startswith(b"{") else []
    assert predict.main(["--model", str(trained / "best"), "--input", str(tmp_path / "in.txt")] + fmt) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_evaluate_scores_raw_text_next_to_words(trained, tmp_path, capsys):
    argv = ["--model", str(trained / "best"), "--data", str(trained / "validation.jsonl"), "--output", str(tmp_path)]
    assert evaluate.main(argv + ["--raw-text"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    raw = metrics["raw_text"]
    assert raw["sentences"] == metrics["sentences"] and 0 < raw["split_as_labelled"] <= raw["sentences"]
    assert set(raw["entity"]["per_type"]) <= {"per", "geo", "org", "tim"}
    assert abs(raw["entity"]["f1"] - metrics["entity"]["f1"]) < 0.05
    assert "raw text: entity F1" in capsys.readouterr().out
    train_metrics = json.loads((trained / "metrics.json").read_text())
    assert train_metrics["word_splitter"] == "treebank" and "f1" in train_metrics["raw_text"]["entity"]


def test_model_folder_without_labels_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    for script in (predict, evaluate):
        argv = ["--model", str(tmp_path), "--text", "x"] if script is predict else ["--model", str(tmp_path), "--data", "x.conll"]
        assert script.main(argv) == 2
        err = capsys.readouterr().err
        assert "is not a kerasner model directory" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["B-per", "I-per", "O", "B-geo"], [("a b", "per"), ("d", "geo")]),
        (["O", "I-per", "I-per", "O"], [("b c", "per")]),  # I- after O starts an entity
        (["B-per", "I-geo", "I-geo", "B-geo"], [("a", "per"), ("b c", "geo"), ("d", "geo")]),
        (["O", "O", "O", "B-tim"], [("d", "tim")]),
    ],
)
def test_decode_entities(tags, expected):
    text = "a b c d"
    words = [("a", 0, 1), ("b", 2, 3), ("c", 4, 5), ("d", 6, 7)]
    entities = decode_entities(text, words, tags, [0.5, 0.7, 0.9, 1.0])
    assert [(e["text"], e["label"]) for e in entities] == expected


def test_tensorboard_logs_and_the_model_card_of_the_run(trained):
    assert list((trained / "logs" / "train").glob("events.out.tfevents.*"))
    assert list((trained / "logs" / "validation").glob("events.out.tfevents.*"))
    card = (trained / "best" / "README.md").read_text()
    metrics = json.loads((trained / "metrics.json").read_text())
    assert f"F1 {metrics['entity']['f1']:.4f}" in card and "| per |" in card and "- Command: `" in card
    assert "--tensorboard" in card and "the embedded sample corpus" in card


# Loads the SavedModel with TensorFlow and tensorflow-text alone, and prints its entities as JSON.
FRESH_PROCESS = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the text ops)
texts = json.loads(sys.stdin.read())
ner = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = {key: value.numpy() for key, value in ner(text=tf.constant(texts)).items()}
found = [
    [[int(out["starts"][i, j]), int(out["ends"][i, j]), out["labels"][i, j].decode(), float(out["scores"][i, j])]
     for j in range(int(out["num_entities"][i]))]
    for i in range(len(texts))
]
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"kerasner", "transformers", "tf_keras", "torch"})
print(json.dumps({"entities": found, "loaded": loaded}))
"""


def test_the_exported_saved_model_finds_the_predictor_s_entities_in_a_process_without_kerasner(trained, tmp_path, capsys):
    assert export.main(["--model", str(trained / "best"), "--output", str(tmp_path / "serving")]) == 0
    assert "serving/1 (signatures serving_default, logits)" in capsys.readouterr().out
    texts = [TEXT, "", "  Mei Lin visited\tKrakow in March.  ", "Ünïcödé Ärger in Zürich 😀, 北京 .", " ".join([TEXT] * 40)]
    import os
    import subprocess

    # transformers sets TF_USE_LEGACY_KERAS=1 in this process, which makes tf.keras (touched by
    # the loader) import tf_keras; a serving process has no such variable.
    env = {key: value for key, value in os.environ.items() if key != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(tmp_path / "serving" / "1")],
        input=json.dumps(texts), capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["loaded"] == []  # neither kerasner, transformers, tf_keras nor torch
    expected = kerasner.EntityPredictor.from_pretrained(trained / "best")(texts)
    assert sum(map(len, expected)) > 40
    for got, want in zip(answer["entities"], expected):
        assert [g[:3] for g in got] == [[e["start"], e["end"], e["label"]] for e in want]
        assert np.allclose([g[3] for g in got], [e["score"] for e in want], atol=1e-4)
    assert export.main(["--model", str(trained / "best"), "--output", str(tmp_path / "serving")]) == 0
    assert (tmp_path / "serving" / "2" / "saved_model.pb").is_file()  # a new version for TF Serving to pick up
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["1", "2"]  # no partial folder left
    capsys.readouterr()
    assert export.main(["--model", str(trained / "best"), "--output", str(tmp_path / "serving"), "--version", "1"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'serving' / '1'} exists; pass another version\n"


def test_the_logits_signature_and_its_tflite_model_take_any_length(trained, tmp_path):
    import tensorflow as tf

    from kerasner.export import export_tflite

    model = kerasner.BertTokenClassifier.from_pretrained(trained / "best")
    path = kerasner.export_saved_model(kerasner.EntityPredictor(model), tmp_path / "serving")
    logits = tf.saved_model.load(str(path)).signatures["logits"]
    lite = tf.lite.Interpreter(model_path=str(export_tflite(path, tmp_path / "logits.tflite"))).get_signature_runner("logits")
    for length in (9, 40):  # a model saved by Keras would take only its build length
        x = model.tokenizer([TEXT[: length * 3]] * 2, return_tensors="np", padding="max_length", max_length=length, truncation=True)
        x = {"input_ids": x["input_ids"].astype("int32"), "attention_mask": x["attention_mask"].astype("int32")}
        expected = model(x).numpy()
        np.testing.assert_allclose(logits(**x)["logits"].numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(lite(**x)["logits"], expected, atol=1e-4)


def test_export_of_a_folder_that_is_no_model_is_one_line(tmp_path, capsys):
    assert export.main(["--model", str(tmp_path), "--output", str(tmp_path / "serving")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--text", "Anna", "--min-score", "2"], "--min-score is a probability, from 0 to 1. Received: 2.0"),
        (["--input-format", "conll", "--document"], "--document reads raw text lines (--input-format text)"),
    ],
)
def test_predict_refuses_flags_that_do_not_go_together(flags, message, tmp_path, capsys):
    assert predict.main(["--model", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
