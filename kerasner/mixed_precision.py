"""Mixed-precision training: half-precision compute, float32 weights, logits and loss."""

import logging
import os
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float16", "bfloat16", "off")

# Linux's /proc/cpuinfo flags of the instructions oneDNN computes bfloat16 matmuls with.
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX-BF16) and
    TensorFlow's oneDNN kernels, which use those instructions, are not turned off.

    Reads the flags Linux lists in `cpuinfo`; False where that file does not exist (macOS,
    Windows), since without those instructions bfloat16 is slower on a CPU, not faster.
    """
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false"):
        return False
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        return False
    flags = {flag for line in lines if line.startswith("flags") for flag in line.partition(":")[2].split()}
    return bool(flags & BFLOAT16_CPU_FLAGS)


def set_mixed_precision(precision="auto"):
    """Sets tf-keras' global dtype policy; call it before building the model.

    Layers then compute in half precision and keep float32 weights. `BertTokenClassifier`'s head
    computes its logits in float32, its loss is computed in float32, and under `mixed_float16`
    `compile` wraps the optimizer in a `LossScaleOptimizer` (dynamic loss scaling), so small
    gradients do not underflow.

    Args:
        precision: `"float16"` (`mixed_float16`: GPUs), `"bfloat16"` (`mixed_bfloat16`: TPUs,
            recent GPUs and CPUs with bfloat16 instructions), `"auto"` (bfloat16 on a TPU,
            float16 on a GPU, bfloat16 on a CPU alone that has bfloat16 instructions
            (`cpu_has_bfloat16`), else no change) or `"off"` (float32). Defaults to `"auto"`.

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
        elif cpu_has_bfloat16():
            precision = "bfloat16"
        else:
            logger.warning("Mixed precision: no GPU, TPU or CPU bfloat16 instructions found; training stays in float32.")
            precision = "off"
    policy = "float32" if precision == "off" else f"mixed_{precision}"
    keras.mixed_precision.set_global_policy(policy)
    return policy
