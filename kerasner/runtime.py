"""How TensorFlow runs a job: mixed precision, distribution strategies, glibc's malloc thresholds."""

import ctypes
import functools
import json
import logging
import os
import platform
import threading
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


_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3
# The values glibc's dynamic thresholds reach by themselves on 64-bit: the mmap threshold stops
# growing at 32 MiB (the largest mallopt accepts) and the trim threshold follows at twice that.
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

_lock = threading.Lock()
_restored = None  # the outcome, once tried


@functools.cache
def uses_glibc():
    """Whether this process runs on glibc, whose `mallopt` the thresholds are set with."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def restore_malloc_thresholds():
    """Undoes TensorFlow's `M_TRIM_THRESHOLD=128 KiB` so large tensors reuse freed memory.

    The first iterator of a `tf.data.Dataset.from_generator` in a process calls glibc's
    `mallopt(M_TRIM_THRESHOLD, 128 KiB)`. That also freezes glibc's mmap threshold at 128 KiB, so
    from then on every tensor of 128 KiB or more is a fresh `mmap`, page-faulted in and zeroed by
    the kernel, and returned with `munmap` when freed: hundreds of thousands of page faults per
    training step of a 6-layer encoder. This function makes that setting happen now, then sets the
    thresholds glibc would have reached by itself (mmap 32 MiB, trim 64 MiB). It runs once per process; `TokenFeatures.to_dataset` calls it, so
    call it yourself only for your own `from_generator` pipelines.

    Returns:
        bool: whether the thresholds are set (False where the C library is not glibc).
    """
    global _restored
    with _lock:
        if _restored is not None:
            return _restored
        if not uses_glibc():
            _restored = False
            return False
        # TensorFlow applies its setting once per process, at the first generator iterator.
        iter(tf.data.Dataset.from_generator(lambda: iter(()), output_signature=tf.TensorSpec((), tf.int32)))
        _restored = set_malloc_thresholds(MMAP_THRESHOLD, TRIM_THRESHOLD)
        if not _restored:
            logger.warning("glibc's mallopt refused the malloc thresholds; large tensors stay fresh mmaps")
        return _restored


def set_malloc_thresholds(mmap_threshold, trim_threshold):
    """Calls glibc's `mallopt` for `M_MMAP_THRESHOLD` and `M_TRIM_THRESHOLD` (bytes); True if both took."""
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
