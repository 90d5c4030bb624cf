import json
import subprocess
import sys
from pathlib import Path

import keras_tuner
import pytest
import tensorflow as tf

import kerasner
from kerasner.tuning import make_oracle
from search_run import tiny_setup

RUN = str(Path(__file__).with_name("search_run.py"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return tiny_setup(tmp_path_factory.mktemp("search"))


def test_hyperparameter_defaults_follow_the_training_defaults(setup):
    encoder_dir = setup[0]  # 32 wide: default_learning_rate 3e-4, searched from 1e-4 to 9e-4
    hp = keras_tuner.HyperParameters()
    kerasner.NerHyperModel(encoder_dir, ["O", "B-x", "I-x"]).declare_hyperparameters(hp)
    assert hp.values == {
        "learning_rate": pytest.approx(3e-4), "warmup_ratio": 0.1, "weight_decay": 0.01, "dropout": 0.1, "batch_size": 32,
    }  # no epochs: each trial plans its length
    rate = hp.space[0]
    assert (rate.min_value, rate.max_value) == (pytest.approx(1e-4), pytest.approx(9e-4))


def test_ranges_and_fixed_values_override():
    hp = keras_tuner.HyperParameters()
    kerasner.NerHyperModel("unused", ["O"], learning_rate=3e-5, batch_size=[8, 16], dropout=(0.2, 0.4)).declare_hyperparameters(hp)
    assert hp.values["learning_rate"] == 3e-5 and hp.values["batch_size"] == 8 and hp.values["dropout"] == 0.2
    with pytest.raises(ValueError, match=r"Received: \['lr'\]"):
        kerasner.NerHyperModel("unused", ["O"], lr=(1e-5, 1e-4))
    with pytest.raises(ValueError, match="Received: head='mlp'"):
        kerasner.NerHyperModel("unused", ["O"], head="mlp")


def test_hp_fixed_in_the_tuner_wins_and_the_head_is_kept(setup, tmp_path):
    encoder_dir, labels, train, validation = setup
    fixed = keras_tuner.HyperParameters()
    fixed.Fixed("learning_rate", 2e-4)
    fixed.Fixed("epochs", 1)
    tuner = kerasner.NerTuner(
        kerasner.NerHyperModel(encoder_dir, labels, batch_size=[16], head="crf"), "random", max_trials=1, seed=0,
        hyperparameters=fixed, directory=tmp_path,
        distribution_strategy=tf.distribute.MirroredStrategy(["/cpu:0"]),  # trials built under its scope
    )
    tuner.search(train, validation)
    best = tuner.best_hyperparameters()
    assert best["learning_rate"] == 2e-4 and best["epochs"] == 1
    assert 0.0 <= best["_search"]["val_entity_f1"] <= 1.0
    # Every trial has the head, and `kerasner train --config` reads it from the best values.
    assert tuner.get_best_models(1)[0].head == "crf" and best["head"] == "crf"
    assert kerasner.TrainingConfig.from_sources({k: v for k, v in best.items() if k != "_search"}).head == "crf"


@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband"])
def test_two_trial_search_exports_best_hyperparameters(setup, tmp_path, kind):
    encoder_dir, labels, train, validation = setup
    hypermodel = kerasner.NerHyperModel(encoder_dir, labels, epochs=1, batch_size=[16], learning_rate=(1e-4, 1e-3))
    tuner = kerasner.NerTuner(hypermodel, kind, max_trials=2, max_epochs=2, seed=0, directory=tmp_path)
    tuner.search(train, validation)
    finished = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    assert len(finished) == 2
    values = tuner.export_best_hyperparameters(tmp_path / "best_hyperparameters.json")
    assert json.loads((tmp_path / "best_hyperparameters.json").read_text()) == values
    assert {"learning_rate", "warmup_ratio", "weight_decay", "dropout", "batch_size", "epochs"} <= set(values)
    best_model = tuner.get_best_models(1)[0]
    assert isinstance(best_model, kerasner.BertTokenClassifier)


def test_interrupted_search_resumes_without_rerunning_finished_trials(tmp_path):
    killed = subprocess.run([sys.executable, RUN, str(tmp_path), "1"], capture_output=True, text=True, timeout=300)
    assert killed.returncode == 17, killed.stderr[-2000:]
    resumed = subprocess.run([sys.executable, RUN, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (tmp_path / "started.txt").read_text().split() == ["0", "1", "1"]  # trial 0 ran once
    assert "TRIALS ['0', '1']" in resumed.stdout


def test_unknown_tuner():
    with pytest.raises(ValueError, match="Received: tuner='grid'"):
        make_oracle("grid")
