"""Entity-level validation at the end of every epoch."""

import logging

import tf_keras as keras

from kerasner.decoding import check_decode
from kerasner.evaluation import MODES, entity_scores
from kerasner.prediction import predict_tags

logger = logging.getLogger(__name__)


class EntityF1Callback(keras.callbacks.Callback):
    """Scores entities on validation data at each epoch end and writes the scores into `logs`.

    Predictions are read at word level (each word's first sub-token, in the window that owns
    it), decoded into tags (by default the most probable valid IOB2 sequence) and scored with
    seqeval. `logs` receives `val_entity_f1`, `val_entity_precision`,
    `val_entity_recall` and `val_entity_f1_<type>` for each type, so `ModelCheckpoint`,
    `EarlyStopping`, `TensorBoard`, `CSVLogger` and keras-tuner can monitor them.
    `BertTokenClassifier.fit` runs this callback before the others wherever it is listed; with
    another model, list it first.

    Args:
        features: validation `TokenFeatures` with gold labels.
        batch_size: int. Prediction batch size. Defaults to `64`.
        mode: `"default"` (conlleval-compatible) or `"strict"` (IOB2). Defaults to `"default"`.
        decode: `"viterbi"` (the most probable valid IOB2 sequence) or `"argmax"` (each word's
            most probable label). Defaults to `"viterbi"`.
        prefix: str. Prefix of the log keys. Defaults to `"val_"`.
        verbose: int. 1 shows the progress of the scoring and prints the scores after each
            epoch; 2 prints only the scores. Defaults to `1`.

    Example:
    ```python
    model.fit(train, epochs=3, callbacks=[
        kerasner.callbacks.EntityF1Callback(validation_features),
        tf_keras.callbacks.EarlyStopping(monitor="val_entity_f1", mode="max", patience=2),
    ])
    ```
    """

    writes_logs = True

    def __init__(self, features, batch_size=64, mode="default", prefix="val_", verbose=1, decode="viterbi"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Unknown mode. Expected one of {set(MODES)}. Received: mode={mode!r}")
        check_decode(decode)
        unlabelled = sum(int(labels.max()) < 0 for labels in features.labels)
        if unlabelled:
            raise ValueError(f"EntityF1Callback needs labelled features. Received {unlabelled} windows without labels")
        self.features = features
        self.batch_size = batch_size
        self.mode = mode
        self.decode = decode
        self.prefix = prefix
        self.verbose = verbose
        self.scores = None
        self.history = []

    def on_train_begin(self, logs=None):
        self.scores = None
        self.history = []
        if not getattr(self.model, "orders_callbacks", False):
            logger.warning(
                "EntityF1Callback writes %sentity_f1 at epoch end: list it before every callback that monitors it",
                self.prefix,
            )

    def score(self, model=None, progress=False):
        """Entity scores of `model` (defaults to the model being trained) on the features."""
        gold, predicted = predict_tags(model or self.model, self.features, self.batch_size, self.decode, progress)
        return entity_scores(gold, predicted, mode=self.mode)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1:
            print(f"\nEpoch {epoch + 1}: scoring entities on {len(self.features):,} validation windows")
        scores = self.score(progress=self.verbose == 1)
        self.scores = scores
        self.history.append(scores)
        values = {
            f"{self.prefix}entity_f1": scores["f1"],
            f"{self.prefix}entity_precision": scores["precision"],
            f"{self.prefix}entity_recall": scores["recall"],
        }
        values.update({f"{self.prefix}entity_f1_{kind}": row["f1"] for kind, row in scores["per_type"].items()})
        if logs is not None:
            logs.update(values)
        if self.verbose:
            per_type = " ".join(f"{kind} {row['f1']:.3f}" for kind, row in scores["per_type"].items())
            print(
                f"Epoch {epoch + 1}: entity P {scores['precision']:.4f} R {scores['recall']:.4f} "
                f"F1 {scores['f1']:.4f} ({per_type})"
            )
