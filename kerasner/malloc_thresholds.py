"""Keeps glibc reusing freed memory for tensors after TensorFlow's generator-dataset setting."""

import ctypes
import functools
import logging
import platform
import threading

import tensorflow as tf

logger = logging.getLogger(__name__)

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
    training step of a 6-layer encoder (measured in docs/benchmark-history.md). This function
    makes that setting happen now, then sets the thresholds glibc would have reached by itself
    (mmap 32 MiB, trim 64 MiB). It runs once per process; `TokenFeatures.to_dataset` calls it, so
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
