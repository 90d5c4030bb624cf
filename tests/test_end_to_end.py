"""Train the tiny model with scripts/train.py, then predict raw text and evaluate with the other scripts."""

import io
import json
import sys
from pathlib import Path

import pytest

import kerasner
from kerasner.entity_predictor import decode_entities

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import evaluate  # noqa: E402
import predict  # noqa: E402
import train  # noqa: E402

TEXT = "Yesterday Anna Keller flew from Lisbon to Oslo , and Norlund Energy said it hired Omar Haddad in 2024 ."


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    output = tmp_path_factory.mktemp("e2e") / "run"
    assert train.main(["--output", str(output), "--epochs", "8", "--verbose", "0"]) == 0
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
    monkeypatch.setattr(sys, "stdin", io.StringIO("Mei Lin met Kenji Sato .\n\nOslo\n"))
    assert predict.main(["--model", str(trained / "best")]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["text"] for x in lines] == ["Mei Lin met Kenji Sato .", "", "Oslo"]


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
