"""The `kerasner` subcommands, one module each, with the environment they set before TensorFlow is
imported.

A variable already exported wins. `TF_ENABLE_ONEDNN_OPTS=1` turns on TensorFlow's oneDNN CPU
kernels, which TensorFlow enables by itself only on CPUs with AVX512-VNNI, AVX512-BF16, AVX-VNNI
or AMX: on an AVX2-only CPU they train kerasner's default recipe about 1.3x faster, and their
allocator reuses large buffers where the default one maps fresh pages. The others keep
TensorFlow's and transformers' log lines out of the output (`kerasner --verbose` lets them through).
"""

import os

DEFAULTS = {
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}

for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
