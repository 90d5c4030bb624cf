"""The README's Python examples run as written (with a tiny encoder and the sample corpus)."""

import re
import shutil
from pathlib import Path

import numpy as np

import kerasner
from conftest import random_batch

README = Path(__file__).resolve().parents[1] / "README.md"


def example(containing):
    """The README's Python block that contains `containing`."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return next(block for block in blocks if containing in block)


def test_the_python_api_example_trains_saves_and_predicts(tiny_encoder_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(kerasner.sample_data_path(), "ner_dataset.csv")  # the format is read from the content
    train = example("train_validation_split").replace('"bert-base-cased"', repr(str(tiny_encoder_dir)))
    train = train.replace("(model.tokenizer, labels)", "(model.tokenizer, labels, max_length=64)")  # the tiny encoder's positions
    exec(train.replace("epochs=3", "epochs=1").replace("3 * -(-", "1 * -(-"), {})
    assert (tmp_path / "runs/ner/best/kerasner.json").is_file()
    namespace = {}
    exec(example("EntityPredictor.from_pretrained").replace("runs/gmb/best", "runs/ner/final"), namespace)
    assert namespace["predictor"].predict_words([["U.S.", "troops", "left"]])[0].__len__() == 3


def test_the_subclass_example_trains_saves_and_loads(tiny_encoder_dir, labels, tmp_path):
    namespace = {"labels": labels}
    exec(example("class TwoLayerHead").replace('"bert-base-cased"', repr(str(tiny_encoder_dir))), namespace)
    model = namespace["model"]
    x, y = random_batch()
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_pretrained(tmp_path / "model")
    restored = namespace["TwoLayerHead"].from_pretrained(tmp_path / "model")
    assert type(restored).__name__ == "TwoLayerHead" and restored.hidden_units == 256
    np.testing.assert_allclose(restored(x, training=False), model(x, training=False), atol=1e-6)


def test_every_result_file_is_in_the_index_and_every_linked_file_exists():
    docs = README.parent / "docs"
    index = (docs / "results" / "README.md").read_text(encoding="utf-8")
    files = {path.name for path in (docs / "results").glob("*.json")}
    assert files and {name for name in files if f"[{name}]({name})" not in index} == set()
    pages = [README, docs / "design.md", docs / "benchmarks.md", docs / "results" / "README.md"]
    linked = {
        (page.parent / target).resolve()
        for page in pages
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
    }
    assert [str(path) for path in linked if not path.exists()] == []
