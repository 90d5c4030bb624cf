"""TensorFlow distribution strategies by name, for training on several devices or workers."""

import json
import logging
import os

import tensorflow as tf

logger = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def distribution_strategy(name="default", tpu=None):
    """Returns the `tf.distribute.Strategy` called `name`.

    Build the model under `strategy.scope()`; `train_token_classifier` and `fit` then split each
    global batch across the replicas and keep the weights in sync.

    Args:
        name: one of
            `"default"`: one device (the first GPU if any, else the CPU);
            `"mirrored"`: every local GPU (`MirroredStrategy`), one replica each;
            `"multiworker"`: `MultiWorkerMirroredStrategy`, with the cluster and this worker's
            role read from the `TF_CONFIG` environment variable;
            `"tpu"`: `TPUStrategy` on the TPU named by `tpu`.
            Defaults to `"default"`.
        tpu: str or None. TPU name or address for `"tpu"`; None finds the TPU of a Cloud TPU VM
            or Colab. Defaults to None.

    Example:
    ```python
    strategy = kerasner.distribution_strategy("mirrored")
    with strategy.scope():
        model = kerasner.BertTokenClassifier.from_pretrained("bert-base-cased", labels=labels)
    kerasner.train_token_classifier(model, train, validation, "runs/ner", strategy=strategy)
    ```
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy. Expected one of {set(STRATEGIES)}. Received: strategy={name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif name == "multiworker":
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise ValueError(
                "The 'multiworker' strategy reads the cluster from the TF_CONFIG environment variable, "
                'which is not set. Example: TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", '
                '"host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
            )
        try:
            json.loads(config)
        except json.JSONDecodeError as error:
            raise ValueError(f"TF_CONFIG is not valid JSON ({error.msg}). Received: TF_CONFIG={config!r}") from None
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as error:
            raise ValueError(f"No TPU found (tpu={tpu!r}): {error}") from None
        strategy = tf.distribute.TPUStrategy(resolver)
    logger.info("%s with %d replicas", type(strategy).__name__, strategy.num_replicas_in_sync)
    return strategy


def is_chief(strategy=None):
    """Whether this process should write checkpoints, logs and reports.

    True on a single machine; with several workers, True only on the chief (worker 0).

    Args:
        strategy: a `tf.distribute.Strategy`. Defaults to the current one.
    """
    strategy = strategy or tf.distribute.get_strategy()
    return bool(strategy.extended.should_checkpoint)
