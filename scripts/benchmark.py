"""Measure kerasner against the usual recipes, side by side in one process.

Commands:
    data     time reading, splitting and tokenizing a corpus; padding overheads of the batchings
    speed    training real tokens/s of recipes taking turns in rounds, against the matmul ceiling
    recipes  list the training recipes of `speed`
    serving  texts/s of the exported SavedModel, EntityPredictor and the transformers pipeline
    quality  entity F1 of kerasner and of the transformers recipe after the same epochs

Every --output file holds the numbers, the settings and their provenance: the commit, the date,
the CPU and its flags, the thread counts, the library versions and the command line.
"""

import argparse
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path

import kerasner.commands  # noqa: F401  (sets TensorFlow's environment before it is imported)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe of `speed`: how its batches are made and how its step runs.

    Recipes of the "kerasner" family differ from kerasner's defaults only where a field says so.
    Those that change the model or the optimizer's maths (activation, dropout, sgd) are bounds,
    not recipes: what making that work free could give.
    """

    about: str
    family: str = "kerasner"  # "tutorial", "hf" or "kerasner"
    pack: bool | None = None  # several sentences a row; None: kerasner's choice (on for BERT)
    pool_batches: int | None = None  # length-grouping pools; None: kerasner's (1, random batches, when packing)
    token_budget: bool = False  # cut batches by --max-tokens
    optimizer: str = "fused"  # fused (FusedAdamW), lazy (LazyAdamW), keras-adamw, keras-decay or sgd
    precision: str = "float32"  # or "mixed_bfloat16"
    jit: bool = False  # the step compiled with XLA
    autotune: bool = False  # tf.data's autotuning on (off elsewhere: an iterator's end can wait for its thread)
    activation: str | None = None  # instead of the encoder's GELU
    dropout: bool = True  # False: no dropout in the encoder or the head
    tensorflow_malloc: bool = False  # under the 128 KiB malloc thresholds TensorFlow's from_generator sets
    head: str = "softmax"  # or "crf"
    batch_size: int | None = None  # sentences a batch; None: --batch-size
    one_shape: bool = False  # every batch padded to the largest rows x length among them
    keras_layers: bool = False  # Keras' Dropout and Dense, not kerasner's drop-ins (`use_fast_layers`)


SPEED_RECIPES = {
    "tutorial": Recipe("every sentence padded to 128, plain cross-entropy over every position", family="tutorial"),
    "hf": Recipe("transformers' example: shuffled batches padded to their longest, the -100 loss", family="hf"),
    "kerasner": Recipe("kerasner's defaults: packed random batches, FusedAdamW"),
    "kerasner-jit": Recipe("the step compiled with XLA", jit=True),
    "kerasner-keras-layers": Recipe("Keras' Dropout and Dense instead of BitDropout and FlatDense", keras_layers=True),
    "kerasner-bf16-keras-layers": Recipe("mixed_bfloat16 with Keras' Dropout and Dense", precision="mixed_bfloat16", keras_layers=True),
    "kerasner-one-shape": Recipe("every batch padded to one shape, the largest of the sample's", one_shape=True),
    "kerasner-jit-one-shape": Recipe("XLA, every batch padded to one shape: compiled once", jit=True, one_shape=True),
    "kerasner-batch-64": Recipe("64 sentences a batch: half the steps, each with twice the tokens", batch_size=64),
    "kerasner-bf16-batch-64": Recipe("mixed_bfloat16 and 64 sentences a batch", precision="mixed_bfloat16", batch_size=64),
    "kerasner-crf": Recipe("the CRF head: a linear-chain CRF over each sentence's words", head="crf"),
    "kerasner-budget": Recipe("length-grouped batches cut by --max-tokens, a sentence a row", pack=False, token_budget=True),
    "kerasner-lazy": Recipe("LazyAdamW: only the embedding rows a batch uses are updated", optimizer="lazy"),
    "kerasner-lazy-budget": Recipe("LazyAdamW and --max-tokens batches", pack=False, token_budget=True, optimizer="lazy"),
    "kerasner-bf16": Recipe("mixed_bfloat16: bfloat16 compute, float32 weights, head and loss", precision="mixed_bfloat16"),
    "kerasner-lazy-bf16": Recipe("LazyAdamW under mixed_bfloat16", optimizer="lazy", precision="mixed_bfloat16"),
    "kerasner-tf-malloc": Recipe("TensorFlow's 128 KiB malloc thresholds", tensorflow_malloc=True),
    "kerasner-keras-adamw": Recipe("tf-keras' AdamW instead of FusedAdamW", optimizer="keras-adamw"),
    "kerasner-keras-decay": Recipe("FusedAdamW's update with tf-keras' weight decay (w * wd * lr, subtracted)", optimizer="keras-decay"),
    "kerasner-autotune": Recipe("fed with tf.data's autotuning on", autotune=True),
    "kerasner-relu": Recipe("bound: ReLU for GELU", activation="relu"),
    "kerasner-no-dropout": Recipe("bound: no dropout", dropout=False),
    "kerasner-sgd": Recipe("bound: plain SGD for AdamW", optimizer="sgd"),
    "kerasner-bound": Recipe("bound: ReLU, no dropout and SGD at once", activation="relu", dropout=False, optimizer="sgd"),
}
POOLS_RECIPE = re.compile(r"kerasner-pools-([1-9][0-9]*)")


def speed_recipe(name):
    """The `Recipe` called `name`: one of SPEED_RECIPES, or kerasner-pools-N (N >= 1 batches a pool)."""
    if name in SPEED_RECIPES:
        return SPEED_RECIPES[name]
    match = POOLS_RECIPE.fullmatch(name)
    if match:
        pools = int(match.group(1))
        return Recipe(f"a sentence a row, batches grouped by length in pools of {pools}", pack=False, pool_batches=pools)
    raise argparse.ArgumentTypeError(f"invalid choice: {name!r} (see `benchmark.py recipes`)")


def recipe_name(name):
    """`name` if it names a recipe (for argparse, which keeps the name)."""
    speed_recipe(name)
    return name


def add_recipe_arguments(parser, default_recipes):
    """The arguments of the commands that train `speed`'s recipes: the data, the recipes, the model."""
    parser.add_argument("--data", required=True, help="Labelled corpus (e.g. GMB ner_dataset.csv).")
    parser.add_argument("--recipes", nargs="+", default=default_recipes, type=recipe_name, metavar="RECIPE", help=f"Recipes to run (`benchmark.py recipes` lists them). Defaults to {' '.join(default_recipes)}.")
    parser.add_argument("--sentences", type=int, default=2048, help="Sentences to train on (a seeded sample). Defaults to 2048.")
    parser.add_argument("--batch-size", type=int, default=32, help="Sentences per batch. Defaults to 32.")
    parser.add_argument("--warmup-batches", type=int, default=8, help="Batches trained before timing starts. Defaults to 8.")
    parser.add_argument("--tokenizer", help="Tokenizer folder or hub name. Defaults to a 30,522-piece vocabulary made from the data.")
    parser.add_argument("--layers", type=int, default=6, help="Encoder layers. Defaults to 6.")
    parser.add_argument("--hidden", type=int, default=384, help="Encoder width. Defaults to 384.")
    parser.add_argument("--heads", type=int, default=12, help="Attention heads. Defaults to 12.")
    parser.add_argument("--intermediate", type=int, default=1536, help="Feed-forward width. Defaults to 1536.")
    parser.add_argument("--max-tokens", type=int, default=2048, help="Padded positions per batch of the -budget recipes. Defaults to 2048.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the sample and the weights. Defaults to 0.")
    parser.add_argument("--output", help="Write the result to this JSON file.")


def build_parser():
    parser = argparse.ArgumentParser(prog="benchmark.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data = commands.add_parser("data", help="Time reading, splitting and tokenizing; compare padding overheads.")
    data.add_argument("--data", required=True, help="Labelled corpus (e.g. GMB ner_dataset.csv).")
    data.add_argument("--model", required=True, help="Directory or hub name of the tokenizer to use.")
    data.add_argument("--batch-size", type=int, default=32, help="Batch size. Defaults to 32.")
    data.add_argument("--fixed-length", type=int, default=128, help="Length the classic recipe pads to. Defaults to 128.")
    data.add_argument("--output", help="Write the result to this JSON file.")
    speed = commands.add_parser("speed", help="Training tokens/s of recipes side by side; inference sentences/s.")
    add_recipe_arguments(speed, default_recipes=["tutorial", "hf", "kerasner"])
    speed.add_argument("--rounds", type=int, default=4, help="Parts of the timed batches; the recipes take turns, a part each. Defaults to 4.")
    speed.add_argument("--inference-sentences", type=int, default=512, help="Texts for the inference comparison (0 skips it). Defaults to 512.")
    profile = commands.add_parser("profile", help="Where a training step's time goes, by the TensorFlow profiler.")
    add_recipe_arguments(profile, default_recipes=["kerasner"])
    profile.add_argument("--steps", type=int, default=16, help="Steps traced, after the warm-up. Defaults to 16.")
    profile.add_argument("--top", type=int, default=20, help="Op types listed. Defaults to 20.")
    commands.add_parser("recipes", help="List the training recipes of `speed`.")
    serving = commands.add_parser("serving", help="Texts/s of the exported SavedModel, EntityPredictor and the transformers pipeline.")
    serving.add_argument("--model", required=True, help="A saved kerasner model folder (e.g. runs/gmb/best).")
    serving.add_argument("--data", required=True, help="Labelled corpus; its validation split is sent as raw text.")
    serving.add_argument("--validation-size", type=float, default=0.2, help="Share held out (seed 42), as train splits it. Defaults to 0.2.")
    serving.add_argument("--texts", type=int, default=512, help="Texts timed at batch 32. Defaults to 512.")
    serving.add_argument("--single-texts", type=int, default=256, help="Texts sent one at a time. Defaults to 256.")
    serving.add_argument("--fuzz", type=int, default=300, help="Fuzz texts on which the SavedModel must equal EntityPredictor. Defaults to 300.")
    serving.add_argument("--rounds", type=int, default=4, help="Parts of the texts; the recipes take turns, a part each. Defaults to 4.")
    serving.add_argument("--output", help="Write the result to this JSON file.")
    quality = commands.add_parser("quality", help="Entity F1 of kerasner and of the transformers recipe after the same epochs.")
    quality.add_argument("--data-dir", default=os.environ.get("KERASNER_DATA_DIR"), help="Folder with gmb/ner_dataset.csv and wnut17/. Defaults to $KERASNER_DATA_DIR.")
    quality.add_argument("--model", default=os.environ.get("KERASNER_MODEL_DIR"), help="Pretrained encoder folder or hub name. Defaults to $KERASNER_MODEL_DIR.")
    quality.add_argument("--datasets", nargs="+", default=["gmb", "wnut17"], choices=["gmb", "wnut17"], help="Corpora. Defaults to gmb wnut17.")
    quality.add_argument("--recipes", nargs="+", default=["kerasner", "hf"], choices=list(QUALITY_RECIPES) + ["hf"], help="Recipes (kerasner-crf: the CRF head; -context: --context). Defaults to kerasner hf.")
    quality.add_argument("--context", type=int, default=64, help="Sub-tokens of document context a side of the -context recipes. Defaults to 64.")
    quality.add_argument("--epochs", type=int, default=1, help="Epochs on GMB. Defaults to 1.")
    quality.add_argument("--oversample", type=int, default=0, metavar="N", help="kerasner.oversample(train, N). Defaults to 0 (off).")
    quality.add_argument("--wnut-epochs", type=int, default=3, help="Epochs on WNUT-17. Defaults to 3.")
    quality.add_argument("--batch-size", type=int, default=32, help="Batch size. Defaults to 32.")
    quality.add_argument("--learning-rate", type=float, default=5e-5, help="Peak learning rate of both recipes. Defaults to 5e-5.")
    quality.add_argument("--seed", type=int, default=42, help="Seed of the weights, dropout and batch order (the GMB split stays 42). Defaults to 42.")
    quality.add_argument("--limit", type=int, help="Use only this many training sentences (a quick check).")
    quality.add_argument("--mixed-precision", choices=["float16", "bfloat16"], help="Train kerasner under this policy. Defaults to float32.")
    quality.add_argument("--lazy-embeddings", action="store_true", help="Train kerasner with LazyAdamW.")
    quality.add_argument("--max-tokens", type=int, help="Cut kerasner's batches by this budget of padded positions.")
    quality.add_argument("--pool-batches", type=int, help="kerasner's length-grouping pools, in batches (1: random batches).")
    quality.add_argument("--pack", action=argparse.BooleanOptionalAction, help="Pack kerasner's batches (on for BERT).")
    quality.add_argument("--work-dir", default="runs/benchmark-quality", help="Folder of the models. Defaults to runs/benchmark-quality.")
    quality.add_argument("--output", help="Write the result to this JSON file.")
    return parser


def recipes_command(args):
    width = max(map(len, SPEED_RECIPES))
    for name, recipe in SPEED_RECIPES.items():
        print(f"{name:{width}s}  {recipe.about}")
    print(f"{'kerasner-pools-N':{width}s}  a sentence a row, batches grouped by length in pools of N (1: random batches)")
    return 0


def write_result(args, result):
    """Writes `result` to `args.output` (if set) with the settings and their provenance."""
    if args.output:
        output = {**result, "settings": vars(args), "provenance": provenance()}
        Path(args.output).write_text(json.dumps(output, indent=2) + "\n")


def data_command(args):
    import transformers

    import kerasner

    times = {}
    start = time.perf_counter()
    sentences = kerasner.read_sentences(args.data)
    times["read"] = time.perf_counter() - start
    start = time.perf_counter()
    train, validation = kerasner.train_validation_split(sentences, 0.2, seed=42)
    times["split"] = time.perf_counter() - start
    start = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model, use_fast=True)
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    preprocessor = kerasner.TokenClassificationPreprocessor(tokenizer, labels, max_length=args.fixed_length)
    train_features, validation_features = preprocessor(train), preprocessor(validation)
    times["tokenize"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    features = train_features
    real = int(features.lengths.sum())
    packed = features.padding_overhead(args.batch_size, pool_batches=1, pack=True)
    bucketed = features.padding_overhead(args.batch_size)
    random = features.padding_overhead(args.batch_size, pool_batches=1)
    fixed = args.fixed_length * len(features) / real
    result = {
        "sentences": len(sentences),
        "words": sentences.stats["words"],
        "labels": len(labels),
        "train_sentences": len(train),
        "validation_sentences": len(validation),
        "seconds": {k: round(v, 2) for k, v in times.items()},
        "windowed_sentences": train_features.stats["windowed_sentences"] + validation_features.stats["windowed_sentences"],
        "padding_overhead": {
            f"kerasner_packed_random_batch{args.batch_size}": round(packed, 3),
            f"kerasner_bucketed_batch{args.batch_size}": round(bucketed, 3),
            f"random_batch{args.batch_size}": round(random, 3),
            f"fixed_length_{args.fixed_length}": round(fixed, 3),
            "ratio": round(fixed / packed, 2),
        },
    }
    print(f"{result['sentences']:,} sentences, {result['words']:,} words, {result['labels']} labels "
          f"({result['train_sentences']:,} train / {result['validation_sentences']:,} validation)")
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result["seconds"].items()))
    print(f"sentences longer than {args.fixed_length} sub-tokens, split into windows (the classic recipe truncates them): "
          f"{result['windowed_sentences']}")
    print(f"padding overhead (padded positions / real sub-tokens), batch {args.batch_size}:")
    print(f"  {'kerasner, packed random batches:':40s}{packed:.3f}x")
    print(f"  {'length-grouped pools of 16 (--no-pack):':40s}{bucketed:.3f}x")
    print(f"  {'random batches, a sentence a row:':40s}{random:.3f}x")
    print(f"  {f'every sentence padded to {args.fixed_length}:':40s}{fixed:.3f}x  ({fixed / packed:.2f}x more positions than packed)")
    write_result(args, result)
    return 0


def best_seconds(step, repeats):
    """Seconds of one call of `step` (traced first), the best mean of 3 runs of `repeats` calls."""
    step()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            step().numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def matmul_flops_per_second(hidden, intermediate, rows=1024, repeats=50, dtype="float32"):
    """FLOP/s of a (rows x hidden) @ (hidden x intermediate) matmul in `dtype` on this machine.

    `rows` is about one batch of tokens (32 sentences of ~32 sub-tokens). The operands are
    variables, so graph optimisation cannot fold the product away.
    """
    import tensorflow as tf

    a = tf.Variable(tf.cast(tf.random.normal((rows, hidden)), dtype))
    b = tf.Variable(tf.cast(tf.random.normal((hidden, intermediate)), dtype))
    step = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    return 2 * rows * hidden * intermediate / best_seconds(step, repeats)


def training_matmul_flops_per_second(hidden, intermediate, rows, repeats=10):
    """FLOP/s of one encoder layer's training matmuls at `rows` positions: for each dense weight
    (4 of hidden x hidden, hidden x intermediate, intermediate x hidden) the forward product, the
    gradient of its input (`dy @ w^T`) and of the weight (`x^T @ dy`), in one function.

    Divided by the ceiling's matmul rate, it is the share of the ceiling a training step would
    reach if every other op were free.
    """
    import tensorflow as tf

    shapes = [(hidden, hidden)] * 4 + [(hidden, intermediate), (intermediate, hidden)]
    operands = {
        shape: [tf.Variable(tf.random.normal(size)) for size in ((rows, shape[0]), shape, (rows, shape[1]))]
        for shape in set(shapes)
    }

    def layer_step():
        total = 0.0
        for shape in shapes:
            x, w, dy = operands[shape]
            total += tf.reduce_sum(tf.matmul(x, w))
            total += tf.reduce_sum(tf.matmul(dy, w, transpose_b=True))
            total += tf.reduce_sum(tf.matmul(x, dy, transpose_a=True))
        return total

    return 6 * rows * sum(a * b for a, b in shapes) / best_seconds(tf.function(layer_step), repeats)


def training_flops_per_token(layers, hidden, intermediate):
    """Matmul FLOPs to train on one token: 6 x the encoder's dense weights (forward 2, backward 4)."""
    return 6 * layers * (4 * hidden * hidden + 2 * hidden * intermediate)


def generator_dataset(generate, signature, autotune=False):
    """`from_generator(generate)` with a prefetch of 2, as every recipe here is fed.

    tf.data's autotuning is off unless `autotune`: the end of an iterator can wait for the
    autotuning thread's sleep (10 ms doubling up to 60 s), idle time that a round of a few batches
    would count many times over.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = autotune
    return tf.data.Dataset.from_generator(generate, output_signature=signature).with_options(options).prefetch(2)


def restore_keras_layers(model):
    """Undoes `kerasner.fast_layers.use_fast_layers` on `model`: Keras' Dropout and Dense again, and
    the feed-forward activation after its dense layer."""
    import tensorflow as tf
    import tf_keras as keras

    from kerasner.fast_layers import BitDropout, FlatDense

    for layer in model._flatten_layers(include_self=False):
        if getattr(layer, "intermediate_act_fn", None) is tf.identity:
            layer.intermediate_act_fn, layer.dense.activation = layer.dense.activation, keras.activations.linear
        if type(layer) is BitDropout:
            layer.__class__ = keras.layers.Dropout
        elif type(layer) is FlatDense:
            layer.__class__ = keras.layers.Dense


def padded_to_one_shape(batches):
    """`batches` of `(x, y)` padded to the most rows and the longest row among them: padding ids
    0 (no segment, masked) and labels -100."""
    import numpy as np

    rows = max(y.shape[0] for _, y in batches)
    length = max(y.shape[1] for _, y in batches)

    def pad(array, value):
        return np.pad(array, [(0, rows - array.shape[0]), (0, length - array.shape[1])], constant_values=value)

    return [({key: pad(value, 0) for key, value in x.items()}, pad(y, -100)) for x, y in batches]


def fit_seconds(model, batches, autotune=False):
    """Trains `model` on `batches` with `fit` on a `generator_dataset`; returns the seconds from
    the start of the first batch to the end of the last.

    `fit`'s own setup and teardown (its data adapter, callbacks and iterator, about 0.2 s a call
    here) are left out: an epoch of a thousand steps pays them once, and a round of a few batches
    would count them once a round.
    """
    import tensorflow as tf
    import tf_keras as keras

    class StepClock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.end = time.perf_counter()

    first_x, first_y = batches[0]
    x_spec = {k: tf.TensorSpec((None, None), tf.int32) for k in first_x}
    y_spec = None if first_y is None else tf.TensorSpec((None, None), tf.int32)
    signature = (x_spec,) if y_spec is None else (x_spec, y_spec)
    rows = (((x,) if y is None else (x, y)) for x, y in batches)
    dataset = generator_dataset(lambda: rows, signature, autotune)
    clock = StepClock()
    model.fit(dataset, epochs=1, verbose=0, callbacks=[clock])
    return clock.end - clock.start


def speed_optimizer(kind, steps):
    """The optimizer of a `Recipe.optimizer` kind, with kerasner's schedule (5e-5 peak) over `steps`."""
    import types

    import tf_keras as keras

    import kerasner
    from kerasner.optimizers import NO_WEIGHT_DECAY

    optimizer = kerasner.create_optimizer(5e-5, total_steps=steps, lazy=kind == "lazy")
    if kind == "keras-adamw":  # the same schedule and decay rate
        optimizer = keras.optimizers.AdamW(learning_rate=optimizer.learning_rate, weight_decay=optimizer.weight_decay)
        optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    elif kind == "keras-decay":  # FusedAdamW's update, tf-keras' weight decay: `w * wd * lr`, then `assign_sub`
        optimizer._apply_weight_decay = types.MethodType(keras.optimizers.Optimizer._apply_weight_decay, optimizer)
    elif kind == "sgd":
        optimizer = keras.optimizers.SGD(optimizer.learning_rate)
    elif kind not in ("fused", "lazy"):
        raise ValueError(f"Unknown optimizer of a recipe: {kind!r}")
    return optimizer


def speed_runs(args):
    """The recipes of `args.recipes`, each built, compiled and warmed up on the same seeded sample
    of `args.data`: a `SpeedRuns` whose `runs` maps a recipe's name to its model and timed batches.
    """
    import tempfile

    import numpy as np
    import tf_keras as keras
    import transformers

    import kerasner

    recipes = {name: speed_recipe(name) for name in args.recipes}
    malloc_restored = kerasner.restore_malloc_thresholds()  # every recipe here is fed by from_generator
    if any(recipe.tensorflow_malloc for recipe in recipes.values()) and not malloc_restored:
        raise ValueError("kerasner-tf-malloc needs glibc's mallopt (Linux with glibc)")
    rng = np.random.default_rng(args.seed)
    sentences = kerasner.read_sentences(args.data)
    picked = [sentences[i] for i in sorted(rng.choice(len(sentences), size=min(args.sentences, len(sentences)), replace=False))]
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    label2id = {label: i for i, label in enumerate(labels)}
    if args.tokenizer:
        tokenizer = transformers.AutoTokenizer.from_pretrained(args.tokenizer, use_fast=True)
    else:
        tokenizer = kerasner.train_wordpiece_tokenizer(sentences, vocab_size=30522, lowercase=True)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.intermediate, max_position_embeddings=512,
    )
    keras.utils.set_random_seed(args.seed)
    encoder_dir = Path(tempfile.mkdtemp(prefix="kerasner-bench-"))
    encoder = transformers.TFBertModel(config)
    encoder.build_in_name_scope()
    encoder.save_pretrained(encoder_dir)
    tokenizer.save_pretrained(encoder_dir)
    del encoder
    num_batches = len(picked) // args.batch_size
    order = rng.permutation(len(picked))
    words = [list(s.words) for s in picked]
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=512)

    per_token = training_flops_per_token(args.layers, args.hidden, args.intermediate)
    timing = f"timed in {args.rounds} rounds" if hasattr(args, "rounds") else "profiled"
    print(f"{len(picked)} sentences, batch {args.batch_size}, {num_batches} batches ({args.warmup_batches} warm-up, "
          f"the rest {timing}); encoder {args.layers} layers x {args.hidden}")
    bf16_ceiling = None
    if any(recipe.precision == "mixed_bfloat16" for recipe in recipes.values()):
        bf16_flops = matmul_flops_per_second(args.hidden, args.intermediate, dtype="bfloat16")
        bf16_ceiling = bf16_flops / per_token
        print(f"bfloat16 matmul {bf16_flops / 1e9:.1f} GFLOP/s: bfloat16 ceiling {bf16_ceiling:,.0f} real tokens/s")

    runs, features = {}, None
    for name, recipe in recipes.items():
        keras.utils.set_random_seed(args.seed)
        if recipe.family == "tutorial":
            model = transformers.TFBertForTokenClassification.from_pretrained(encoder_dir, num_labels=len(labels))
            pad = keras.preprocessing.sequence.pad_sequences
            ids = pad(encoded["input_ids"], maxlen=128, padding="post", truncating="post", dtype="int32")
            mask = pad(encoded["attention_mask"], maxlen=128, padding="post", truncating="post", dtype="int32")
            # Every sub-token takes its word's label; special tokens and padding are "O"; all count.
            tags = [[0 if w is None else label2id[picked[i].tags[w]] for w in encoded.word_ids(i)] for i in range(len(picked))]
            y = pad(tags, maxlen=128, padding="post", truncating="post", value=0, dtype="int32")
            batches = [
                ({"input_ids": ids[b], "attention_mask": mask[b]}, y[b])
                for b in (order[k * args.batch_size : (k + 1) * args.batch_size] for k in range(num_batches))
            ]
            model.compile(keras.optimizers.Adam(5e-5), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        elif recipe.family == "hf":
            model = transformers.TFBertForTokenClassification.from_pretrained(encoder_dir, num_labels=len(labels))
            collator = transformers.DataCollatorForTokenClassification(tokenizer, return_tensors="np")
            hf_rows = first_subtoken_rows(encoded, picked, label2id)
            batches = []
            for k in range(num_batches):
                rows = order[k * args.batch_size : (k + 1) * args.batch_size]
                batch = collator([dict(hf_rows[i]) for i in rows])
                batches.append(({k: v.astype("int32") for k, v in batch.items()}, None))
            optimizer, _ = transformers.create_optimizer(5e-5, num_train_steps=num_batches, num_warmup_steps=num_batches // 10)
            model.compile(optimizer=optimizer)  # the model's own -100 loss
        else:
            keras.mixed_precision.set_global_policy(recipe.precision)
            changes = {} if recipe.activation is None else {"hidden_act": recipe.activation}
            if not recipe.dropout:  # the head's and the encoder's
                changes.update(dropout=0.0, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
            model = kerasner.BertTokenClassifier.from_pretrained(encoder_dir, labels=labels, head=recipe.head, **changes)
            if recipe.keras_layers:
                restore_keras_layers(model)
            if features is None:  # the same windows for every kerasner recipe
                features = kerasner.TokenClassificationPreprocessor(tokenizer, labels, max_length=512)(picked)
            budget = args.max_tokens if recipe.token_budget else None
            pack, pools = kerasner.resolve_batching(model, recipe.pack, recipe.pool_batches)
            batch_size = recipe.batch_size or args.batch_size
            batches = [
                (x, y)
                for x, y, _ in features.batches(
                    batch_size, shuffle=True, seed=args.seed, max_tokens=budget, pool_batches=pools, pack=pack
                )
            ]
            if budget is None:
                batches = batches[:num_batches]
            if recipe.one_shape:
                batches = padded_to_one_shape(batches)
            per_step = sum(int((y != -100).sum()) for _, y in batches) / len(batches)  # of the batches trained
            model.compile(speed_optimizer(recipe.optimizer, len(batches)), labelled_positions_per_step=per_step, jit_compile=recipe.jit)
        if len(batches) <= args.warmup_batches:
            raise ValueError(
                f"{name}: {len(batches)} batches from --sentences {args.sentences}, none left to time after "
                f"--warmup-batches {args.warmup_batches}; give more sentences or fewer warm-up batches"
            )
        fit_seconds(model, batches[: args.warmup_batches])  # tracing and first allocations, not timed
        keras.mixed_precision.set_global_policy("float32")
        runs[name] = (model, batches[args.warmup_batches :])

    return SpeedRuns(recipes, runs, picked, labels, encoder_dir, per_token, bf16_ceiling)


@dataclasses.dataclass
class SpeedRuns:
    recipes: dict
    runs: dict  # name: (model, timed batches)
    sentences: list
    labels: list
    encoder_dir: Path
    per_token: float  # training matmul FLOPs per real token
    bf16_ceiling: float | None


def speed_command(args):
    import shutil

    import numpy as np

    from kerasner.runtime import MMAP_THRESHOLD, TRIM_THRESHOLD, set_malloc_thresholds

    if args.rounds < 1:
        raise ValueError(f"--rounds must be at least 1. Received: {args.rounds}")
    prepared = speed_runs(args)
    recipes, runs, per_token, bf16_ceiling = prepared.recipes, prepared.runs, prepared.per_token, prepared.bf16_ceiling
    results = {}
    # The timed batches of every recipe are cut into --rounds parts, and the recipes take turns, a
    # part each, in a rotating order: a slow spell of the machine slows every recipe alike. The
    # matmul of the ceiling is measured in every round too, and its best rate is kept.
    seconds = dict.fromkeys(runs, 0.0)
    flops = training_flops = 0.0
    # The default recipe's batches when it runs, else the first kerasner variant's (other pools pad more).
    kerasner_recipe = "kerasner" if "kerasner" in runs else next((name for name in runs if recipes[name].family == "kerasner"), None)
    kerasner_batches = None if kerasner_recipe is None else runs[kerasner_recipe][1]
    rows = 1024 if kerasner_batches is None else round(np.mean([x["input_ids"].size for x, _ in kerasner_batches]))
    parts = {recipe: np.array_split(np.arange(len(timed)), args.rounds) for recipe, (_, timed) in runs.items()}
    for round_index in range(args.rounds):
        flops = max(flops, matmul_flops_per_second(args.hidden, args.intermediate))
        training_flops = max(training_flops, training_matmul_flops_per_second(args.hidden, args.intermediate, rows))
        turn = list(runs)[round_index % len(runs) :] + list(runs)[: round_index % len(runs)]
        for name in turn:
            model, timed = runs[name]
            part = parts[name][round_index]
            if len(part) == 0:
                continue
            if recipes[name].tensorflow_malloc:
                set_malloc_thresholds(128 * 1024, 128 * 1024)
            seconds[name] += fit_seconds(model, [timed[i] for i in part], autotune=recipes[name].autotune)
            if recipes[name].tensorflow_malloc:
                set_malloc_thresholds(MMAP_THRESHOLD, TRIM_THRESHOLD)
    ceiling = flops / per_token
    print(f"matmul {flops / 1e9:.1f} GFLOP/s (best of {args.rounds} rounds), {per_token / 1e6:.1f} MFLOP per training "
          f"token: ceiling {ceiling:,.0f} real tokens/s")
    bound = training_flops / flops
    print(f"the encoder's training matmuls at {rows} positions (a kerasner batch): {training_flops / 1e9:.1f} GFLOP/s "
          f"(best of {args.rounds} rounds), {bound:.0%} of the ceiling's matmul: with every other op free, a step "
          f"would reach {bound:.0%} of the ceiling")
    for recipe, (model, timed) in runs.items():
        real = int(sum(x["attention_mask"].sum() for x, _ in timed))
        positions = sum(x["input_ids"].size for x, _ in timed)
        results[recipe] = {
            "real_tokens_per_second": real / seconds[recipe],
            "seconds": seconds[recipe],
            "real_tokens": real,
            "padding_overhead": positions / real,
        }
        print(f"{recipe:20s} {real / seconds[recipe]:8,.0f} real tokens/s  ({seconds[recipe]:6.1f} s, padding "
              f"{positions / real:.2f}x, {real / seconds[recipe] / ceiling:.0%} of ceiling)")
    del runs
    summary = {
        "ceiling_real_tokens_per_second": ceiling,
        "matmul_flops_per_second": flops,
        "flops_per_token": per_token,
        "training_matmuls": {"rows": rows, "flops_per_second": training_flops, "share_of_ceiling": bound},
    }
    if bf16_ceiling is not None:
        summary["bfloat16_ceiling_real_tokens_per_second"] = bf16_ceiling
    ratios = {}
    for name in [r for r in results if recipes[r].family == "kerasner"]:
        for other in ("tutorial", "hf"):
            if other in results:
                ratios[f"{name}_vs_{other}"] = results[name]["real_tokens_per_second"] / results[other]["real_tokens_per_second"]
        ratios[f"{name}_share_of_ceiling"] = results[name]["real_tokens_per_second"] / ceiling
        if recipes[name].precision == "mixed_bfloat16":
            ratios[f"{name}_share_of_bfloat16_ceiling"] = results[name]["real_tokens_per_second"] / bf16_ceiling
    for key, value in ratios.items():
        print(f"{key}: {value:.2f}" + ("" if "share" in key else "x"))
    if args.inference_sentences:
        summary["inference"] = inference_comparison(
            args, prepared.sentences[: args.inference_sentences], prepared.encoder_dir, prepared.labels
        )
    shutil.rmtree(prepared.encoder_dir, ignore_errors=True)
    write_result(args, {"recipes": results, "ratios": ratios, **summary})
    return 0


# The parts of a training step that `profile` adds op time up by, matched on an op's name in
# this order; ops of no part are "other".
STEP_PARTS = (
    ("optimizer", re.compile(r"^(AdamW|Adam|SGD|LazyAdamW|FusedAdamW)\b|/Adam|ResourceApply|^AddN|^cond")),
    ("dropout", re.compile(r"dropout", re.I)),
    ("GELU", re.compile(r"Gelu|gelu")),
    ("layer norm", re.compile(r"LayerNorm")),
    ("attention scores", re.compile(r"attention/self/(?!query|key|value)")),
    ("embeddings", re.compile(r"embeddings|word_embedding|Gather")),
    ("head and loss", re.compile(r"classifier|loss|crf|metrics", re.I)),
)


def step_part(op_name):
    """The part of a step (`STEP_PARTS`) an op of this name belongs to, or "other"."""
    return next((part for part, pattern in STEP_PARTS if pattern.search(op_name)), "other")


def is_matmul(op_type):
    return "MatMul" in op_type or "Einsum" in op_type or op_type in ("Dot", "dot")


def op_time_profile(logdir):
    """Op time of a TensorFlow profiler trace in `logdir`, summed by op type and by step part.

    Reads the trace's XSpace (`*.xplane.pb`): every op run on TensorFlow's compute threads is an
    event named `name:type`. Ops run concurrently on the inter-op threads, so the op time adds up
    to more than the wall time: `wall_seconds` is the traced span, and `matmul_busy_seconds` and
    `op_busy_seconds` the wall time in which some matmul, or some op, was running.
    """
    import collections

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(Path(logdir).glob("plugins/profile/*/*.xplane.pb"))
    if not paths:
        raise ValueError(f"No profiler trace (*.xplane.pb) under {logdir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(paths[-1].read_bytes())
    by_type, by_part, counts = collections.Counter(), collections.Counter(), collections.Counter()
    spans, matmul_spans = [], []
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if "::" in name or ":" not in name:  # executor and thread-pool events, not ops
                    continue
                op_name, op_type = name.rsplit(":", 1)
                seconds = event.duration_ps / 1e12
                by_type[op_type] += seconds
                counts[op_type] += 1
                part = "matmuls" if is_matmul(op_type) else step_part(op_name)
                by_part[part] += seconds
                start = line.timestamp_ns * 1e-9 + event.offset_ps / 1e12
                spans.append((start, start + seconds))
                if is_matmul(op_type):
                    matmul_spans.append((start, start + seconds))
    if not spans:
        raise ValueError(f"The profiler trace in {logdir} holds no TensorFlow ops")
    total = sum(by_type.values())
    return {
        "wall_seconds": max(end for _, end in spans) - min(start for start, _ in spans),
        "op_seconds": total,
        "op_busy_seconds": covered_seconds(spans),
        "matmul_busy_seconds": covered_seconds(matmul_spans),
        "by_type": {t: {"seconds": v, "share": v / total, "ops": counts[t]} for t, v in by_type.most_common()},
        "by_part": {p: {"seconds": v, "share": v / total} for p, v in by_part.most_common()},
    }


def covered_seconds(spans):
    """Length of the union of `(start, end)` spans."""
    covered, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            covered += stop - max(start, end)
            end = stop
    return covered


def profile_command(args):
    import shutil
    import tempfile

    import tensorflow as tf

    if args.steps < 1:
        raise ValueError(f"--steps must be at least 1. Received: {args.steps}")
    prepared = speed_runs(args)
    results = {}
    for name, (model, timed) in prepared.runs.items():
        batches = timed[: args.steps]
        logdir = tempfile.mkdtemp(prefix="kerasner-profile-")
        tf.profiler.experimental.start(logdir)
        seconds = fit_seconds(model, batches)
        tf.profiler.experimental.stop()
        profile = op_time_profile(logdir)
        shutil.rmtree(logdir, ignore_errors=True)
        real = int(sum(x["attention_mask"].sum() for x, _ in batches))
        profile.update(steps=len(batches), real_tokens=real, real_tokens_per_second_traced=real / seconds)
        results[name] = profile
        wall = profile["wall_seconds"]
        print(f"\n{name}: {len(batches)} steps traced, {real / seconds:,.0f} real tokens/s under the profiler; "
              f"a matmul runs {profile['matmul_busy_seconds'] / wall:.0%} of the wall time, some op "
              f"{profile['op_busy_seconds'] / wall:.0%}; op time {profile['op_seconds']:.2f} s in {wall:.2f} s")
        print(f"  {'op type':28s} {'ms/step':>8s} {'share':>6s}   {'step part':16s} {'ms/step':>8s} {'share':>6s}")
        types = list(profile["by_type"].items())[: args.top]
        parts = list(profile["by_part"].items())
        for row in range(max(len(types), len(parts))):
            left = right = ""
            if row < len(types):
                op_type, value = types[row]
                left = f"{op_type[:28]:28s} {value['seconds'] * 1e3 / len(batches):8.1f} {value['share']:6.1%}"
            if row < len(parts):
                part, value = parts[row]
                right = f"{part:16s} {value['seconds'] * 1e3 / len(batches):8.1f} {value['share']:6.1%}"
            print(f"  {left:44s}   {right}")
    shutil.rmtree(prepared.encoder_dir, ignore_errors=True)
    write_result(args, {"recipes": results})
    return 0


def inference_comparison(args, sentences, encoder_dir, labels):
    """Sentences/s of EntityPredictor and of transformers' pipeline on the same texts and weights."""
    import tf_keras as keras
    import transformers

    import kerasner

    keras.backend.clear_session()
    texts = [" ".join(s.words) for s in sentences]
    model = kerasner.BertTokenClassifier.from_pretrained(encoder_dir, labels=labels)
    predictor = kerasner.EntityPredictor(model, batch_size=args.batch_size)
    predictor.predict(texts[: args.batch_size])  # warm-up
    start = time.perf_counter()
    predictor.predict(texts)
    ours = len(texts) / (time.perf_counter() - start)
    hf_model = transformers.TFBertForTokenClassification.from_pretrained(encoder_dir, num_labels=len(labels))
    hf_model.config.id2label = dict(enumerate(labels))
    hf_model.config.label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = transformers.AutoTokenizer.from_pretrained(encoder_dir)
    pipe = transformers.pipeline("token-classification", model=hf_model, tokenizer=tokenizer, framework="tf", aggregation_strategy="first", dtype=None)
    pipe(texts[: args.batch_size], batch_size=args.batch_size)  # warm-up
    start = time.perf_counter()
    pipe(texts, batch_size=args.batch_size)
    theirs = len(texts) / (time.perf_counter() - start)
    print(f"inference on {len(texts)} sentences: kerasner EntityPredictor {ours:,.1f} sentences/s, "
          f"transformers pipeline {theirs:,.1f} sentences/s ({ours / theirs:.2f}x)")
    return {"kerasner_sentences_per_second": ours, "pipeline_sentences_per_second": theirs, "ratio": ours / theirs}


def peak_memory_gb():
    """Peak resident memory of this process so far, in GB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # ru_maxrss is in KiB on Linux


def first_subtoken_rows(encoded, sentences, label2id):
    """The transformers example's alignment: the first sub-token of a word carries its label, the
    other sub-tokens and special tokens -100. Returns `{"input_ids", "labels"}` per sentence."""
    rows = []
    for i, sentence in enumerate(sentences):
        previous, labels_row = None, []
        for word in encoded.word_ids(i):
            labels_row.append(-100 if word is None or word == previous else label2id[sentence.tags[word]])
            previous = word
        rows.append({"input_ids": encoded["input_ids"][i], "labels": labels_row})
    return rows


def hf_recipe_scores(model_name, train, validation, labels, epochs, batch_size, learning_rate, seed):
    """The transformers TensorFlow recipe: TFBertForTokenClassification, first-sub-token labels,
    shuffled batches padded by DataCollatorForTokenClassification, the model's -100 loss, Adam with
    10% warm-up and linear decay. Scored at each word's first sub-token with seqeval, the tags
    read by argmax as in the example, and by kerasner's Viterbi decoding of the same logits.

    Returns:
        `{decode: entity scores}` for `"argmax"` and `"viterbi"`."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras
    import transformers

    import kerasner

    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_name, use_fast=True)
    model = transformers.TFBertForTokenClassification.from_pretrained(model_name, num_labels=len(labels))
    collator = transformers.DataCollatorForTokenClassification(tokenizer, return_tensors="np")

    # The example truncates (words past the limit are neither trained on nor scored).
    limit = min(512, int(tokenizer.model_max_length), int(model.config.max_position_embeddings))

    def encode(sentences):
        encoded = tokenizer([list(s.words) for s in sentences], is_split_into_words=True, truncation=True, max_length=limit)
        return first_subtoken_rows(encoded, sentences, label2id)

    train_rows, validation_rows = encode(train), encode(validation)
    rng = np.random.default_rng(seed)
    spec = tf.TensorSpec((None, None), tf.int32)

    def batches(rows, shuffle, epoch_seed):
        order = np.random.default_rng(epoch_seed).permutation(len(rows)) if shuffle else np.arange(len(rows))
        for k in range(0, len(rows), batch_size):
            batch = collator([dict(rows[i]) for i in order[k : k + batch_size]])
            yield {key: value.astype("int32") for key, value in batch.items()}

    steps = epochs * -(-len(train_rows) // batch_size)
    optimizer, _ = transformers.create_optimizer(learning_rate, num_train_steps=steps, num_warmup_steps=steps // 10, weight_decay_rate=0.01)
    model.compile(optimizer=optimizer)
    keras.utils.set_random_seed(seed)
    for epoch in range(epochs):
        dataset = generator_dataset(
            lambda: batches(train_rows, True, int(rng.integers(1 << 30))),
            {"input_ids": spec, "attention_mask": spec, "labels": spec},
        )
        model.fit(dataset, epochs=1, verbose=0)
    gold, word_logits = [], []
    for batch in batches(validation_rows, False, 0):
        label_ids = batch.pop("labels")
        logits = model.predict_on_batch(batch).logits  # (batch, seq_len, num_labels)
        for row_labels, row_logits in zip(label_ids, np.asarray(logits)):
            slots = row_labels != -100  # the first sub-token of every word, from the gold alignment
            gold.append(row_labels[slots])
            word_logits.append(row_logits[slots])
    return scores_by_decode(gold, word_logits, labels)


def scores_by_decode(gold_ids, word_logits, labels, transitions=None):
    """`{decode: entity scores}` of per-word logits read by argmax and by Viterbi decoding (with a
    CRF head's learned `transitions`)."""
    import kerasner

    to_tags = lambda rows: [[labels[int(i)] for i in ids] for ids in rows]  # noqa: E731
    gold = to_tags(gold_ids)
    return {
        decode: kerasner.entity_scores(gold, to_tags(kerasner.decode_words(word_logits, labels, decode, transitions=transitions)))
        for decode in ("argmax", "viterbi")
    }


# The quality command's kerasner recipes: the head each trains, and whether it reads document context.
QUALITY_RECIPES = {
    "kerasner": ("softmax", False), "kerasner-crf": ("crf", False),
    "kerasner-context": ("softmax", True), "kerasner-crf-context": ("crf", True),
}


def quality_command(args):
    import tf_keras as keras

    import kerasner
    from kerasner.commands.run_report import evaluate_raw_text, raw_text_line

    if not args.data_dir or not Path(args.data_dir).is_dir():
        raise ValueError("Pass --data-dir (or set KERASNER_DATA_DIR) to a folder with gmb/ and wnut17/")
    if not args.model:
        raise ValueError("Pass --model (or set KERASNER_MODEL_DIR): a pretrained encoder folder or hub name")
    kerasner.restore_malloc_thresholds()  # the transformers recipe is fed by from_generator too
    data_dir = Path(args.data_dir)
    results = {}
    for dataset in args.datasets:
        # Context is added before the split (the same split: it keeps the order and the count).
        contextual = lambda sentences: kerasner.add_context(sentences, args.context)  # noqa: E731
        if dataset == "gmb":
            sentences = contextual(kerasner.read_sentences(data_dir / "gmb" / "ner_dataset.csv"))
            train, validation = kerasner.train_validation_split(sentences, 0.2, seed=42)
            epochs = args.epochs
        else:
            train = list(contextual(kerasner.read_sentences(data_dir / "wnut17" / "wnut17train.conll")))
            validation = list(contextual(kerasner.read_sentences(data_dir / "wnut17" / "emerging.dev.conll")))
            epochs = args.wnut_epochs
        if args.limit:
            train = train[: args.limit]
        oversampled = kerasner.oversample(train, args.oversample)
        train = list(oversampled)
        oversampled = oversampled.stats["oversampled"]
        if oversampled["types"]:
            print(f"{dataset}: oversampled {oversampled['types']}, {oversampled['added_sentences']:,} sentences added", flush=True)
        labels = kerasner.labels_from_tags(s.tags for s in train + validation)
        # The scored sentences, so that a model of the run can be read again with scripts/evaluate.py.
        Path(args.work_dir).mkdir(parents=True, exist_ok=True)
        kerasner.write_sentences(validation, Path(args.work_dir) / f"{dataset}-validation.jsonl")
        for recipe in args.recipes:
            keras.backend.clear_session()
            keras.utils.set_random_seed(args.seed)  # the new head's weights too
            start = time.perf_counter()
            if recipe in QUALITY_RECIPES:
                head, reads_context = QUALITY_RECIPES[recipe]
                kerasner.set_mixed_precision(args.mixed_precision or "off")
                model = kerasner.BertTokenClassifier.from_pretrained(args.model, labels=labels, head=head)
                model.context = args.context if reads_context else 0
                preprocessor = kerasner.TokenClassificationPreprocessor(
                    model.tokenizer, labels, max_length=model.max_input_length(), context=model.context
                )
                train_features, validation_features = preprocessor(train), preprocessor(validation)
                pack, pools = kerasner.resolve_batching(model, args.pack, args.pool_batches)
                batching = {"pack": pack, "pool_batches": pools, "head": head, "context": model.context}
                history = kerasner.train_token_classifier(
                    model, train_features, validation_features, Path(args.work_dir) / f"{dataset}-{recipe}",
                    epochs=epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed, verbose=0,
                    lazy_embeddings=args.lazy_embeddings, max_tokens=args.max_tokens, pool_batches=pools, pack=pack,
                    overwrite=True,  # a measured run starts afresh, never from an earlier one in work_dir
                )
                seconds = time.perf_counter() - start  # its EntityF1Callback scored the last epoch (history.entity_f1)
                # The model after the last epoch, as for the other recipe, read both ways (not timed).
                by_decode = scores_by_decode(
                    validation_features.word_values(validation_features.labels),
                    kerasner.predict_word_logits(model, validation_features), model.labels, model.transition_scores(),
                )
                own = "viterbi"  # kerasner's default
                # What a user of the model receives: the validation sentences as ordinary text.
                raw_text = evaluate_raw_text(kerasner.EntityPredictor(model), validation)
                del model
                kerasner.set_mixed_precision("off")
            else:
                batching = {"pack": False, "pool_batches": 1}  # shuffled batches, a sentence a row
                by_decode = hf_recipe_scores(args.model, train, validation, labels, epochs, args.batch_size, args.learning_rate, args.seed)
                own = "argmax"  # the transformers example's reading
                seconds = time.perf_counter() - start
                raw_text = None  # the recipe has no raw-text predictor
            scores, other = by_decode[own], "viterbi" if own == "argmax" else "argmax"
            key = f"{dataset}/{recipe}"
            results[key] = {
                "epochs": epochs,
                "train_sentences": len(train),
                "validation_sentences": len(validation),
                "seconds": round(seconds, 1),
                "peak_memory_gb_so_far": round(peak_memory_gb(), 2),
                "batching": batching,
                "oversampled": oversampled,
                "decode": own,
                "entity": scores,
                "entity_by_decode": by_decode,
                "raw_text": raw_text,
            }
            per_type = " ".join(f"{k} {v['f1']:.3f}" for k, v in scores["per_type"].items())
            print(f"{key:18s} {epochs} epoch(s): entity F1 {scores['f1']:.4f} (P {scores['precision']:.4f} R {scores['recall']:.4f}; "
                  f"{own}; {other} {by_decode[other]['f1']:.4f}) "
                  f"in {seconds:,.0f} s, peak memory so far {peak_memory_gb():.2f} GB; {per_type}", flush=True)
            if raw_text is not None:
                print(f"{key:18s} {raw_text_line(raw_text)}", flush=True)
            write_result(args, {"results": results})  # after every run: a long benchmark keeps what it measured
    return 0


# The CPU flags that decide which matmul kernels oneDNN can run.
SIMD_FLAGS = re.compile(r"(avx\w*|amx\w*|fma\w*|sse4_2|f16c)")


def provenance():
    """Where a result comes from: the commit, the date, the machine, the threads, the versions and the command."""
    import datetime
    import platform
    import subprocess
    from importlib import metadata

    import tensorflow as tf

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    def git(*command):
        return subprocess.run(["git", *command], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    field = lambda name: next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith(name)), "")  # noqa: E731
    threads = tf.config.threading
    return {
        "commit": git("rev-parse", "HEAD") + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": field("model name") or platform.processor(),
            "simd_flags": sorted(set(SIMD_FLAGS.findall(field("flags")))),
            "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1) if hasattr(os, "sysconf") else None,
            "system": platform.platform(),
        },
        "threads": {
            "intra_op": threads.get_intra_op_parallelism_threads(),  # 0: TensorFlow's choice, one per core
            "inter_op": threads.get_inter_op_parallelism_threads(),
            **{key: os.environ[key] for key in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS") if key in os.environ},
        },
        "environment": {key: os.environ.get(key) for key in ("TF_ENABLE_ONEDNN_OPTS", "TF_USE_LEGACY_KERAS")},
        "versions": {name: version(name) for name in ("kerasner", "tensorflow", "tf-keras", "tensorflow-text", "transformers", "keras-tuner", "seqeval")}
        | {"python": platform.python_version()},
        "command": " ".join(["python", *sys.argv]),
    }


# Pieces of the fuzz texts: words of the corpora, accents, CJK, emoji and their joiners, control and
# format characters, invisible spaces, URLs, handles, very long words.
FUZZ_PIECES = [
    "London", "Obama", "U.S.", "Mr.", "don't", "John's", "5,000", "1996-12-06", "café", "naïve", "Ångström", "Straße",
    "ΟΔΟΣ", "İstanbul", "北京", "東京タワー", "😀", "👍🏽", "👨\u200d👩\u200d👧", "\u200b", "\u200d", "\xad", "\x00", "\x07", "\x85",
    "\r\n", "\t", "\ufeff", "\ue000", "\ufffd", "ǅ", "ﬁ", "e\u0301", "...", "!!!", "(", ")", "$", "%", "@user", "#tag",
    "http://x.org/a?b=c", "a@b.com", "al-Qaida", "U.S.-led", ":)", "—", "“quoted”", "Москва", "القاهرة", "दिल्ली",
    "ß" * 40, "é" * 70, "x" * 120, "the", "paris", "smith", "visited", "monday",
]


def fuzz_texts(count, seed=0, longest=60, long_texts=()):
    """`count` texts of FUZZ_PIECES joined by spaces, nothing or line breaks (some empty), a few
    edge cases, and one text of each length in `long_texts` (words)."""
    import random

    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        n = rng.choice([0, 1, 2, 5, 20, longest])
        texts.append("".join(rng.choice(FUZZ_PIECES) + rng.choice([" ", "", "  ", "\n"]) for _ in range(n)))
    texts += ["", " ", "\x00\x01", "\u200d"]
    return texts + [" ".join(rng.choice(FUZZ_PIECES) for _ in range(n)) for n in long_texts]


def serving_command(args):
    import tempfile

    import tensorflow as tf
    import transformers

    import kerasner

    sentences = kerasner.read_sentences(args.data)
    _, validation = kerasner.train_validation_split(sentences, args.validation_size, 42)
    every_text = [kerasner.detokenize(s.words)[0] for s in validation]
    texts, singles = every_text[: args.texts], every_text[: args.single_texts]
    predictor = kerasner.EntityPredictor.from_pretrained(args.model)
    keras_predictor = kerasner.EntityPredictor.from_pretrained(args.model)
    restore_keras_layers(keras_predictor.model)  # the same weights through Keras' Dropout and Dense
    with tempfile.TemporaryDirectory() as folder:
        saved = tf.saved_model.load(str(kerasner.export_saved_model(predictor, folder))).signatures["serving_default"]
        keras_saved = tf.saved_model.load(str(kerasner.export_saved_model(keras_predictor, Path(folder) / "keras"))).signatures["serving_default"]
    pipe = transformers.pipeline("token-classification", model=args.model, aggregation_strategy="first", framework="tf", dtype=None)

    def saved_model(batch, signature=saved):
        out = {key: value.numpy() for key, value in signature(text=tf.constant(batch)).items()}
        return [
            [(int(out["starts"][i, j]), int(out["ends"][i, j]), out["labels"][i, j].decode(), float(out["scores"][i, j])) for j in range(int(out["num_entities"][i]))]
            for i in range(len(batch))
        ]

    recipes = {
        "saved_model": saved_model,
        "entity_predictor": lambda batch: [[(e["start"], e["end"], e["label"], e["score"]) for e in found] for found in predictor(batch)],
        "saved_model_keras_layers": lambda batch: saved_model(batch, keras_saved),
        "entity_predictor_keras_layers": lambda batch: [[(e["start"], e["end"], e["label"], e["score"]) for e in found] for found in keras_predictor(batch)],
        "transformers_pipeline": lambda batch: pipe(batch, batch_size=len(batch)),
    }
    results = {}
    for batch_size, chosen in ((32, texts), (1, singles)):
        batches = [chosen[i : i + batch_size] for i in range(0, len(chosen), batch_size)]
        for call in recipes.values():
            call(batches[0])  # tracing, warm-up
        seconds = dict.fromkeys(recipes, 0.0)
        for part in range(args.rounds):
            for name, call in recipes.items():  # each recipe takes its turn on the same part
                start = time.perf_counter()
                for k in range(part, len(batches), args.rounds):
                    call(batches[k])
                seconds[name] += time.perf_counter() - start
        n_words = sum(len(predictor.split_words(text)) for text in chosen)
        results[f"batch_{batch_size}"] = {
            name: {"texts_per_second": len(chosen) / seconds[name], "words_per_second": n_words / seconds[name], "seconds": seconds[name]}
            for name in recipes
        }
        line = ", ".join(f"{name} {row['texts_per_second']:,.1f} texts/s ({row['words_per_second']:,.0f} words/s)" for name, row in results[f"batch_{batch_size}"].items())
        print(f"batch {batch_size}, {len(chosen):,} texts: {line}", flush=True)

    def compare(chosen):
        """How many of the texts get the same entities from the SavedModel and EntityPredictor."""
        graph = [found for i in range(0, len(chosen), 32) for found in saved_model(chosen[i : i + 32])]
        python = [found for i in range(0, len(chosen), 32) for found in recipes["entity_predictor"](chosen[i : i + 32])]
        same = [[g[:3] for g in a] == [p[:3] for p in b] for a, b in zip(graph, python)]
        worst = max((abs(g[3] - p[3]) for a, b, ok in zip(graph, python, same) if ok for g, p in zip(a, b)), default=0.0)
        return {"texts": len(chosen), "entities": sum(map(len, python)), "equal": sum(same), "max_score_difference": worst}

    for key, chosen in (("validation_texts", every_text), ("fuzz_texts", fuzz_texts(args.fuzz, long_texts=(5000, 9000)))):
        results[f"saved_model_equals_entity_predictor_on_{key}"] = row = compare(chosen)
        print(
            f"SavedModel against EntityPredictor on {row['texts']:,} {key.replace('_', ' ')} ({row['entities']:,} entities): "
            f"{row['equal']:,} give the same entities; scores differ by at most {row['max_score_difference']:.1e}", flush=True,
        )
    write_result(args, {"results": results})
    return 0


def run(args):
    commands = {"data": data_command, "speed": speed_command, "profile": profile_command, "recipes": recipes_command, "serving": serving_command, "quality": quality_command}
    return commands[args.command](args)


def main(argv=None):
    from kerasner.commands.command_line import run_command

    return run_command(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
