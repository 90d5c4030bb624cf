"""A small training run for the kill-and-resume tests: `python resumable_run.py OUTPUT [KILL_EPOCH] [--planned]`.

It prints the run's epochs and those this process trained. With KILL_EPOCH, the process kills itself (no clean-up) at the second batch of that epoch (1-based).
By default it trains exactly 3 epochs; with --planned it plans its length (at most 6 epochs) at a
learning rate too small to change the entity F1, so the stopping rule stops it after epoch 3.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tf_keras as keras

import kerasner


class KillAt(keras.callbacks.Callback):
    """Kills the process at KILL_EPOCH's second batch; records the epochs this process trains."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch
        self.current = None
        self.trained = []

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1
        self.trained.append(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            os._exit(17)


def main(output, kill_epoch=None, planned=False):
    sentences = kerasner.read_sentences(kerasner.sample_data_path())
    train, validation = list(sentences[:96]), list(sentences[96:128])
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    model = kerasner.build_tiny_model(train, labels, vocab_size=300, hidden_size=32, intermediate_size=64, max_length=64)
    preprocessor = kerasner.TokenClassificationPreprocessor(model.tokenizer, labels, max_length=64)
    kill_at = KillAt(kill_epoch)
    history = kerasner.train_token_classifier(
        model,
        preprocessor(train),
        preprocessor(validation),
        output,
        epochs=None if planned else 3,
        max_epochs=6 if planned else None,
        batch_size=16,
        learning_rate=1e-9 if planned else 1e-3,
        callbacks=[kill_at],
        verbose=0,
    )
    print("EPOCHS", history.epoch, "TRAINED HERE", kill_at.trained)
    print("PLAN", history.plan.epochs, history.plan.patience, "STOPPED", history.stopped_epoch, "BEST", history.best_epoch)


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--planned"]
    main(arguments[0], int(arguments[1]) if len(arguments) > 1 else None, planned="--planned" in sys.argv)
