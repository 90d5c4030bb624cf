"""Environment defaults of the kerasner scripts, set before TensorFlow is imported.

A variable already exported wins. `TF_ENABLE_ONEDNN_OPTS=1` turns on TensorFlow's oneDNN CPU
kernels, which TensorFlow enables by itself only on CPUs with AVX512-VNNI, AVX512-BF16, AVX-VNNI
or AMX: on an AVX2-only CPU they train kerasner's default recipe about 1.3x faster (README,
"Benchmarks"), and their allocator reuses large buffers where the default one maps fresh pages.
The other two keep TensorFlow's and transformers' log lines out of the scripts' output.
"""

import os

DEFAULTS = {
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TRANSFORMERS_VERBOSITY": "error",
}

for name, value in DEFAULTS.items():
    os.environ.setdefault(name, value)
