"""Fine-tune a BERT token classifier for NER and write the best model and a report.

With no arguments it trains the offline `tiny` model on kerasner's embedded sample corpus.

Examples:
    python scripts/train.py
    python scripts/train.py --data ner_dataset.csv --model bert-base-cased --output runs/gmb
    python scripts/train.py --data ner_dataset.csv --model bert-base-cased --epochs 2 --output runs/gmb-2
    python scripts/train.py --train train.conll --validation dev.conll --model path/to/encoder
    python scripts/train.py --data ner_dataset.csv --model bert-base-cased --config runs/search/best_hyperparameters.json

Outputs in --output: best/ (the best model by validation entity F1, loadable with
BertTokenClassifier.from_pretrained), metrics.json, history.csv, report.txt (seqeval), training.png,
per_type_f1.png and validation.jsonl (the validation sentences, for scripts/evaluate.py). A run killed part-way continues from its last completed epoch when started
again with the same --output.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import environment_defaults  # noqa: F401  (sets TensorFlow's environment before it is imported)

# Values used when neither the command line nor --config gives one: (pretrained, tiny). None leaves
# the value to the run: epochs and patience to kerasner.training_plan.plan_training, a pretrained
# encoder's learning rate to default_learning_rate of its width.
DEFAULTS = {
    "epochs": (None, None),
    "max_epochs": (None, None),
    "patience": (None, None),
    "batch_size": (32, 16),
    "learning_rate": (None, 1e-3),
    "warmup_ratio": (0.1, 0.1),
    "weight_decay": (0.01, 0.01),
    "dropout": (0.1, 0.1),
}


def build_parser():
    from kerasner.command_line import add_decode_argument, add_word_splitter_argument

    parser = argparse.ArgumentParser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="Labelled file split into training and validation sets (CSV, CoNLL or JSON lines). Defaults to the embedded sample corpus.")
    data.add_argument("--train", help="Training file, with --validation instead of --data.")
    data.add_argument("--validation", help="Validation file, with --train.")
    data.add_argument("--format", choices=["csv", "conll", "jsonl"], help="File format. Defaults to detection from the content.")
    data.add_argument("--scheme", default="auto", choices=["auto", "iob2", "iob1", "iobes", "bilou"], help="Tag scheme of the files; converted to IOB2. Defaults to auto.")
    data.add_argument("--validation-size", type=float, default=0.2, help="Share of --data held out for validation, split by sentence. Defaults to 0.2.")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="tiny", help="'tiny' (small BERT built from scratch, offline), a hub name such as bert-base-cased, a local encoder directory, or a saved kerasner model. Defaults to tiny.")
    model.add_argument("--max-length", type=int, help="Longest window in sub-tokens; longer sentences are split into overlapping windows. Defaults to the model's maximum (at most 512).")
    model.add_argument("--stride", type=int, default=32, help="Sub-tokens shared by consecutive windows of a long sentence. Defaults to 32.")
    model.add_argument("--label-all-subtokens", action="store_true", help="Train on every sub-token instead of the first of each word.")
    add_word_splitter_argument(model, default="treebank")
    training = parser.add_argument_group("training (defaults: pretrained / tiny)")
    training.add_argument("--epochs", type=int, help="Train exactly this many epochs (no early stop unless --patience). Defaults to a length the run plans: at least 3 epochs and 1,000 optimizer steps, at most --max-epochs, stopping once 2 epochs in a row bring no better validation entity F1.")
    training.add_argument("--max-epochs", type=int, help="The most epochs of a planned run (without --epochs). Defaults to 20.")
    training.add_argument("--batch-size", type=int, help="Sentences (windows) per batch. Defaults to 32 / 16.")
    training.add_argument("--max-tokens", type=int, help="Cut batches by this budget of padded sub-token positions instead of --batch-size sentences. Defaults to off.")
    training.add_argument("--pack", action=argparse.BooleanOptionalAction, help="Pack each batch's sentences several to a row, each attending only to itself, so random batches need little padding. Defaults to on for BERT encoders; --no-pack pads one sentence a row.")
    training.add_argument("--pool-batches", type=int, help="Batches of similar length are cut from pools of this many batches of shuffled sentences; 1 draws batches at random. Defaults to 1 when packing, else 16.")
    training.add_argument("--learning-rate", type=float, help="Peak learning rate (linear warm-up, then linear decay). Defaults to 5e-5 x 768 / the encoder's width, within 1e-5 and 3e-4: 5e-5 for BERT-base, 1e-4 for a 384-wide MiniLM; 1e-3 for tiny.")
    training.add_argument("--warmup-ratio", type=float, help="Share of the steps spent warming up. Defaults to 0.1.")
    training.add_argument("--weight-decay", type=float, help="AdamW weight decay. Defaults to 0.01.")
    training.add_argument("--dropout", type=float, help="Dropout before the head. Defaults to 0.1.")
    training.add_argument("--patience", type=int, help="Stop once this many epochs in a row bring no better validation entity F1. Defaults to 2 for a planned run, no early stop with --epochs.")
    training.add_argument("--config", help="JSON file of training values (e.g. the tuner's best_hyperparameters.json); flags given on the command line win.")
    training.add_argument("--seed", type=int, default=42, help="Seed of the split, the batch order and the weights. Defaults to 42.")
    training.add_argument("--lazy-embeddings", action="store_true", help="Update only the embedding rows each batch uses (LazyAdamW); faster steps on CPU.")
    training.add_argument("--gradient-accumulation", type=int, default=1, metavar="N", help="Run each optimizer step as N batches of --batch-size, one after the other, summing their gradients: an effective batch N times larger in the memory of one. Defaults to 1.")
    scale = parser.add_argument_group("devices")
    scale.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker", "tpu"], help="tf.distribute strategy: default (one device), mirrored (every local GPU), multiworker (workers listed in TF_CONFIG) or tpu. --batch-size is the global batch, split across replicas. Defaults to default.")
    scale.add_argument("--tpu", help="TPU name or address for --strategy tpu. Defaults to the TPU of this VM.")
    scale.add_argument("--mixed-precision", nargs="?", const="auto", default="off", choices=["auto", "float16", "bfloat16", "off"], help="Compute in half precision with float32 weights, logits and loss (loss scaling for float16). Without a value: bfloat16 on a TPU, float16 on a GPU, bfloat16 on a CPU with bfloat16 instructions (AVX512-BF16, AMX), else off. Defaults to off.")
    training.add_argument("--jit", action="store_true", help="Compile the training step with XLA (measure first: slower on CPU).")
    training.add_argument("--strict", action="store_true", help="Score entities in seqeval's strict IOB2 mode instead of the conlleval-compatible default.")
    add_decode_argument(training)
    parser.add_argument("--output", default="runs/train", help="Output folder. Defaults to runs/train.")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.")
    return parser


def resolve_training_values(args):
    """Command line, then --config, then the defaults of the model kind."""
    config = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        try:
            config = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; expected some of {sorted(DEFAULTS)}")
    kind = 1 if args.model == "tiny" else 0
    return {
        name: getattr(args, name) if getattr(args, name) is not None else config.get(name, defaults[kind])
        for name, defaults in DEFAULTS.items()
    }


def main(argv=None):
    from kerasner.command_line import run_command

    return run_command(build_parser(), run, argv)


def run(args):
    values = resolve_training_values(args)
    import kerasner

    # Refuse a bad training length before the data is read and tokenized.
    kerasner.plan_training(1, epochs=values["epochs"], max_epochs=values["max_epochs"], patience=values["patience"])
    from kerasner.run_report import (
        evaluate_features, evaluate_raw_text, plot_history, plot_per_type_f1, raw_text_line, summary_line, write_json,
    )
    from kerasner.run_setup import load_model, load_splits, max_model_length

    started = time.perf_counter()
    # Several workers must create their strategy before anything else runs on TensorFlow.
    strategy = kerasner.distribution_strategy(args.strategy, tpu=args.tpu)
    chief = kerasner.is_chief(strategy)
    if args.strategy != "default":
        print(f"strategy: {type(strategy).__name__}, {strategy.num_replicas_in_sync} replicas; global batch {values['batch_size']}")
    if args.mixed_precision != "off":
        print(f"mixed precision: {kerasner.set_mixed_precision(args.mixed_precision)}")
    output = Path(args.output)
    train, validation, labels, data_stats = load_splits(
        args.data, args.train, args.validation, args.format, args.scheme, args.validation_size, args.seed
    )
    output.mkdir(parents=True, exist_ok=True)
    if chief:
        kerasner.write_sentences(validation, output / "validation.jsonl")
    print(
        f"data: {data_stats['train_sentences']:,} training and {data_stats['validation_sentences']:,} validation "
        f"sentences, {len(labels)} labels, read in {data_stats['read_seconds']:.1f} s"
    )
    with strategy.scope():
        model = load_model(args.model, train, labels, dropout=values["dropout"], seed=args.seed)
    model.word_splitter = args.word_splitter
    if values["learning_rate"] is None:
        values["learning_rate"] = kerasner.default_learning_rate(model.encoder.config.hidden_size)
    preprocessor = kerasner.TokenClassificationPreprocessor(
        model.tokenizer,
        model.labels,
        max_length=max_model_length(model, args.max_length),
        stride=args.stride,
        label_all_subtokens=args.label_all_subtokens,
    )
    pack, pool_batches = kerasner.resolve_batching(model, args.pack, args.pool_batches)
    tokenize_start = time.perf_counter()
    train_features = preprocessor(train, progress=args.verbose > 0)
    validation_features = preprocessor(validation, progress=args.verbose > 0)
    print(
        f"tokenized in {time.perf_counter() - tokenize_start:.1f} s: {train_features.stats['tokens']:,} training "
        f"sub-tokens; sentences split into windows (longer than {preprocessor.max_length}): "
        f"{train_features.stats['windowed_sentences']} training, {validation_features.stats['windowed_sentences']} validation; "
        f"padding overhead {train_features.padding_overhead(values['batch_size'], pool_batches=pool_batches, max_tokens=args.max_tokens, pack=pack):.2f}x"
        f" ({'random batches' if pool_batches == 1 else f'pools of {pool_batches} batches'}{', packed' if pack else ''})"
    )
    print(f"model: {args.model} ({model.encoder.count_params():,} encoder parameters); training values {values}")
    history = kerasner.train_token_classifier(
        model,
        train_features,
        validation_features,
        output,
        epochs=values["epochs"],
        max_epochs=values["max_epochs"],
        batch_size=values["batch_size"],
        max_tokens=args.max_tokens,
        pool_batches=pool_batches,
        pack=pack,
        learning_rate=values["learning_rate"],
        warmup_ratio=values["warmup_ratio"],
        weight_decay=values["weight_decay"],
        lazy_embeddings=args.lazy_embeddings,
        gradient_accumulation_steps=args.gradient_accumulation,
        strategy=strategy,
        seed=args.seed,
        patience=values["patience"],
        jit_compile=args.jit,
        mode="strict" if args.strict else "default",
        decode=args.decode,
        verbose=args.verbose,
    )
    if not chief:
        f1 = history.history["val_entity_f1"][-1]
        print(f"training done, last validation entity F1 {f1:.4f}; the chief worker writes the model and the report")
        return 0
    best = kerasner.BertTokenClassifier.from_pretrained(output / "best")
    result = evaluate_features(best, validation_features, decode=args.decode)
    raw_text = evaluate_raw_text(kerasner.EntityPredictor(best, max_length=args.max_length, stride=args.stride, decode=args.decode), validation)
    (output / "report.txt").write_text(result["report"])
    speeds = history.history.get("train_tokens_per_second", [])
    best_epoch = json.loads((output / "best" / "checkpoint.json").read_text())["epoch"]
    epochs_done = history.epoch[-1] + 1 if history.epoch else 0
    plan = history.plan
    if history.stopped_epoch is not None:
        stop = f"stopped after epoch {history.stopped_epoch} of {plan.epochs}: no better validation entity F1 since epoch {best_epoch}"
    else:
        stop = f"trained all {plan.epochs} planned epochs"
    metrics = {
        "entity": result["entity"],
        "entity_strict": result["entity_strict"],
        "token_accuracy": result["token_accuracy"],
        "raw_text": raw_text,
        "decode": args.decode,
        "word_splitter": best.word_splitter,
        "best_epoch": best_epoch,
        "epochs": epochs_done,
        "training_plan": {**plan.to_dict(), "stopped_epoch": history.stopped_epoch, "stop": stop},
        "train_sentences": len(train),
        "validation_sentences": len(validation),
        "validation_words": result["words"],
        "windowed_sentences": {
            "train": train_features.stats["windowed_sentences"],
            "validation": validation_features.stats["windowed_sentences"],
        },
        "train_tokens_per_second": float(sum(speeds) / len(speeds)) if speeds else None,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "model": args.model,
        "training_values": values,
        "data": data_stats,
        "kerasner_version": kerasner.__version__,
    }
    write_json(output / "metrics.json", metrics)
    plot_history(output / "history.csv", output / "training.png")
    plot_per_type_f1(result["entity"], output / "per_type_f1.png")
    print(result["report"])
    print(f"training: {stop}; best epoch {best_epoch}")
    print(f"validation {summary_line(result)}; best epoch {best_epoch} of {epochs_done}")
    print(f"validation {raw_text_line(raw_text)}")
    print(f"wrote {output}/: best/ metrics.json history.csv report.txt training.png per_type_f1.png validation.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
