"""Mixed-precision training: half-precision compute, float32 weights, logits and loss."""

import logging

import tensorflow as tf
import tf_keras as keras

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float16", "bfloat16", "off")


def set_mixed_precision(precision="auto"):
    """Sets tf-keras' global dtype policy; call it before building the model.

    Layers then compute in half precision and keep float32 weights. `BertTokenClassifier`'s head
    computes its logits in float32, its loss is computed in float32, and under `mixed_float16`
    `compile` wraps the optimizer in a `LossScaleOptimizer` (dynamic loss scaling), so small
    gradients do not underflow.

    Args:
        precision: `"float16"` (`mixed_float16`: GPUs), `"bfloat16"` (`mixed_bfloat16`: TPUs,
            recent GPUs and CPUs with bfloat16 instructions), `"auto"` (bfloat16 on a TPU,
            float16 on a GPU, no change on a CPU alone) or `"off"` (float32). Defaults to
            `"auto"`.

    Returns:
        The name of the policy set, e.g. `"mixed_float16"`.

    Example:
    ```python
    kerasner.set_mixed_precision("float16")
    model = kerasner.BertTokenClassifier.from_pretrained("bert-base-cased", labels=labels)
    ```
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision. Expected one of {set(PRECISIONS)}. Received: precision={precision!r}")
    if precision == "auto":
        if tf.config.list_logical_devices("TPU"):
            precision = "bfloat16"
        elif tf.config.list_physical_devices("GPU"):
            precision = "float16"
        else:
            logger.warning("Mixed precision: no GPU or TPU found; training stays in float32 on the CPU.")
            precision = "off"
    policy = "float32" if precision == "off" else f"mixed_{precision}"
    keras.mixed_precision.set_global_policy(policy)
    return policy
