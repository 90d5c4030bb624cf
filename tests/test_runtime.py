"""TensorFlow's from_generator malloc setting, and kerasner undoing it, seen in page faults."""

import os
import subprocess
import sys

import pytest

import kerasner
from kerasner import token_features
from kerasner.runtime import uses_glibc

glibc_only = pytest.mark.skipif(not uses_glibc(), reason="mallopt is glibc's")

# Minor page faults of 50 allocations of 2 MiB, each freed at once: ~512 each when every one is a
# fresh mmap, none once freed memory is reused.
SCRIPT = """
import resource
import numpy as np
import tensorflow as tf
import kerasner

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        block = np.ones(1 << 19, np.float32)
        del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

iter(tf.data.Dataset.from_generator(lambda: iter(()), output_signature=tf.TensorSpec((), tf.int32)))
print(faults())
print(kerasner.restore_malloc_thresholds())
print(faults())
"""


@glibc_only
def test_restored_thresholds_reuse_freed_memory():
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr
    under_tensorflow_setting, restored, after = result.stdout.split()
    assert int(under_tensorflow_setting) > 20_000  # every 2 MiB block faulted in afresh
    assert restored == "True"
    assert int(after) < 2_000  # at most the heap's first growth


def test_to_dataset_restores_the_thresholds(sample_features, monkeypatch):
    calls = []
    monkeypatch.setattr(token_features, "restore_malloc_thresholds", lambda: calls.append(1))
    _, train_features, _ = sample_features
    train_features.to_dataset(4)
    assert calls == [1]


@glibc_only
def test_restoring_is_idempotent():
    assert kerasner.restore_malloc_thresholds() is True
    assert kerasner.restore_malloc_thresholds() is True
