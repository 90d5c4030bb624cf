"""A 2-trial random search for the interrupted-search test: `python search_run.py DIR [KILL_TRIAL]`.

Appends each started trial id to DIR/started.txt; with KILL_TRIAL, the process kills itself when
that trial starts.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import kerasner


class LoggingTuner(kerasner.NerTuner):
    kill_trial = None

    def run_trial(self, trial, *args, **kwargs):
        with open(Path(self.directory) / "started.txt", "a") as log:
            log.write(trial.trial_id + "\n")
        if trial.trial_id == self.kill_trial:
            os._exit(17)
        return super().run_trial(trial, *args, **kwargs)


def tiny_setup(directory):
    """A saved tiny encoder + tokenizer and the sample's features (the same on every call)."""
    sentences = kerasner.read_sentences(kerasner.sample_data_path())
    train, validation = list(sentences[:96]), list(sentences[96:128])
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    encoder_dir = Path(directory) / "encoder"
    if not encoder_dir.exists():
        model = kerasner.build_tiny_model(train, labels, vocab_size=300, hidden_size=32, intermediate_size=64, max_length=64)
        model.encoder.save_pretrained(encoder_dir)
        model.tokenizer.save_pretrained(encoder_dir)
    model = kerasner.BertTokenClassifier.from_pretrained(encoder_dir, labels=labels)
    preprocessor = kerasner.TokenClassificationPreprocessor(model.tokenizer, labels, max_length=64)
    return encoder_dir, labels, preprocessor(train), preprocessor(validation)


def main(directory, kill_trial=None):
    encoder_dir, labels, train, validation = tiny_setup(directory)
    LoggingTuner.kill_trial = kill_trial
    hypermodel = kerasner.NerHyperModel(encoder_dir, labels, epochs=1, batch_size=[16], learning_rate=(1e-4, 1e-3))
    tuner = LoggingTuner(hypermodel, "random", max_trials=2, seed=1, directory=directory, project_name="search")
    tuner.search(train, validation)
    print("TRIALS", sorted(t.trial_id for t in tuner.oracle.trials.values() if t.status == "COMPLETED"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
