"""A small training run for the kill-and-resume test: `python resumable_run.py OUTPUT [KILL_EPOCH]`.

With KILL_EPOCH, the process kills itself (no clean-up) at the second batch of that epoch (1-based).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tf_keras as keras

import kerasner


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch
        self.current = None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            os._exit(17)


def main(output, kill_epoch=None):
    sentences = kerasner.read_sentences(kerasner.sample_data_path())
    train, validation = list(sentences[:96]), list(sentences[96:128])
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    model = kerasner.build_tiny_model(train, labels, vocab_size=300, hidden_size=32, intermediate_size=64, max_length=64)
    preprocessor = kerasner.TokenClassificationPreprocessor(model.tokenizer, labels, max_length=64)
    history = kerasner.train_token_classifier(
        model,
        preprocessor(train),
        preprocessor(validation),
        output,
        epochs=3,
        batch_size=16,
        learning_rate=1e-3,
        callbacks=[KillAt(kill_epoch)] if kill_epoch else [],
        verbose=0,
    )
    print("EPOCHS", history.epoch)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
