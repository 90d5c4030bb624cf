"""Fine-tune a BERT token classifier for NER and write the best model and a report.

With no arguments it trains the offline `tiny` model on kerasner's embedded sample corpus.

Examples:
    kerasner train
    kerasner train --data ner_dataset.csv --model bert-base-cased --output runs/gmb
    kerasner train --data ner_dataset.csv --model bert-base-cased --epochs 2 --output runs/gmb-2
    kerasner train --train train.conll --validation dev.conll --model path/to/encoder
    kerasner train --data ner_dataset.csv --model bert-base-cased --config runs/search/best_hyperparameters.json

Outputs in --output: best/ (the best model by validation entity F1, loadable with
BertTokenClassifier.from_pretrained), metrics.json, history.csv, report.txt (seqeval), training.png,
per_type_f1.png, validation.jsonl (the validation sentences, for `kerasner evaluate`) and
config.json (every setting of the run; --config runs/x/config.json runs it again).

A folder holds one run. The same command after a kill or a crash goes on from the last finished
epoch and ends as the uninterrupted run would; a command with other settings, or any command on a
finished run, is refused unless --overwrite.
"""

import argparse
import json
import sys
import time
from pathlib import Path


def build_parser():
    from kerasner.commands.command_line import add_data_format_arguments, add_decode_argument, add_word_splitter_argument

    parser = argparse.ArgumentParser(
        prog="kerasner train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="Labelled file split into training and validation sets (any --format). Defaults to the embedded sample corpus.")
    data.add_argument("--train", help="Training file, with --validation instead of --data.")
    data.add_argument("--validation", help="Validation file, with --train.")
    add_data_format_arguments(data)
    data.add_argument("--scheme", choices=["auto", "iob2", "iob1", "iobes", "bilou"], help="Tag scheme of the files; converted to IOB2. Defaults to auto.")
    data.add_argument("--validation-size", type=float, help="Share of --data held out for validation, split by sentence. Defaults to 0.2.")
    data.add_argument("--encoding", help="Text encoding of the files. Defaults to UTF-8, falling back to Windows-1252.")
    data.add_argument("--oversample", type=int, metavar="N", help="Repeat each training sentence that holds an entity of a type with fewer than N entities, so that the type is seen about N times an epoch (validation is left as it is). Defaults to 0 (off).")
    data.add_argument("--allow-new-labels", action="store_true", help="Accept tags that occur only in --validation (refused by default: they cannot be learnt).")
    model = parser.add_argument_group("model")
    model.add_argument("--model", help="'tiny' (small BERT built from scratch, offline), a hub name such as bert-base-cased, a local encoder directory, or a saved kerasner model. Defaults to tiny.")
    model.add_argument("--max-length", type=int, help="Longest window in sub-tokens; longer sentences are split into overlapping windows. Defaults to the model's maximum (at most 512).")
    model.add_argument("--stride", type=int, help="Sub-tokens shared by consecutive windows of a long sentence. Defaults to 32.")
    model.add_argument("--label-all-subtokens", action="store_true", help="Train on every sub-token instead of the first of each word (with --head softmax).")
    model.add_argument("--context", type=int, metavar="N", help="Read each sentence between up to N sub-tokens of the sentences before and after it in its document (-DOCSTART- in CoNLL, doc_id in JSON lines; a file without them is one document); labels and loss stay on the sentence. The model keeps N: evaluation and prediction read documents the same way. Defaults to 0.")
    model.add_argument("--head", choices=["softmax", "crf"], help="crf: a linear-chain CRF over each sentence's words, with learned transitions between labels; softmax: each word's label on its own. Defaults to a saved --model's head, else crf.")
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
    training.add_argument("--config", help="JSON file of settings, any of those of kerasner.TrainingConfig: a run folder's config.json (or the folder) repeats that run, the tuner's best_hyperparameters.json sets the training values; flags given on the command line win.")
    training.add_argument("--seed", type=int, help="Seed of the split, the batch order and the weights. Defaults to 42.")
    training.add_argument("--lazy-embeddings", action="store_true", help="Update only the embedding rows each batch uses (LazyAdamW); faster steps on CPU.")
    training.add_argument("--gradient-accumulation", type=int, metavar="N", help="Run each optimizer step as N batches of --batch-size, one after the other, summing their gradients: an effective batch N times larger in the memory of one. Defaults to 1.")
    scale = parser.add_argument_group("devices")
    scale.add_argument("--strategy", choices=["default", "mirrored", "multiworker", "tpu"], help="tf.distribute strategy: default (one device), mirrored (every local GPU), multiworker (workers listed in TF_CONFIG) or tpu. --batch-size is the global batch, split across replicas. Defaults to default.")
    scale.add_argument("--tpu", help="TPU name or address for --strategy tpu. Defaults to the TPU of this VM.")
    scale.add_argument("--mixed-precision", nargs="?", const="auto", choices=["auto", "float16", "bfloat16", "off"], help="Compute in half precision with float32 weights, logits and loss (loss scaling for float16). Without a value: bfloat16 on a TPU, float16 on a GPU, bfloat16 on a CPU with bfloat16 instructions (AVX512-BF16, AMX), else off. Defaults to off.")
    training.add_argument("--jit", action="store_true", help="Compile the training step with XLA (measure first: slower on CPU).")
    training.add_argument("--strict", action="store_true", help="Score entities in seqeval's strict IOB2 mode instead of the conlleval-compatible default.")
    add_decode_argument(training)
    parser.add_argument("--output", help="Output folder; it holds one run. Defaults to runs/train.")
    parser.add_argument("--tensorboard", metavar="DIR", help="Write TensorBoard logs (loss, entity F1, learning rate per epoch) to DIR; view them with `tensorboard --logdir DIR`.")
    parser.add_argument("--overwrite", action="store_true", help="Start afresh in --output, removing the run there (finished or not).")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.")
    # Defaults come from kerasner.TrainingConfig: a flag that is not given sets nothing.
    for action in parser._actions:
        if action.dest not in ("help", "verbose"):
            action.default = argparse.SUPPRESS
    return parser


def resolve_config(args):
    """`TrainingConfig` of the command line over --config over the defaults."""
    import kerasner

    from kerasner.commands.command_line import reader_options

    given = {name: value for name, value in vars(args).items() if name not in ("config", "overwrite", "verbose", "command")}
    given.update(reader_options(given))  # CoNLL columns are indices
    recorded = kerasner.TrainingConfig.from_file(args.config) if getattr(args, "config", None) else {}
    config = kerasner.TrainingConfig.from_sources(recorded, given)
    # Refuse a bad training length or head before the data is read and tokenized.
    kerasner.plan_training(1, epochs=config.epochs, max_epochs=config.max_epochs, patience=config.patience)
    if isinstance(config.oversample, bool) or not isinstance(config.oversample, int) or config.oversample < 0:
        raise ValueError(f"--oversample must be a count of entities, 0 or more. Received: {config.oversample!r}")
    if config.head != "softmax" and config.label_all_subtokens:
        raise ValueError("--label-all-subtokens trains the softmax head; add --head softmax (the CRF head chains a sentence's words)")
    return config


def main(argv=None):
    import shlex

    from kerasner.commands.command_line import run_command

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    parser.set_defaults(command=" ".join(["kerasner train", *map(shlex.quote, argv)]))  # for the model card
    return run_command(parser, run, argv)


# What a finished run leaves in its folder besides the training files (RUN_FILES).
REPORT_FILES = ("metrics.json", "report.txt", "training.png", "per_type_f1.png", "validation.jsonl")


def run(args):
    config = resolve_config(args)
    import kerasner
    from kerasner.run_folder import RunLock

    # Several workers must create their strategy before anything else runs on TensorFlow.
    strategy = kerasner.distribution_strategy(config.strategy, tpu=config.tpu)
    output = Path(config.output)
    if not kerasner.is_chief(strategy):  # only the chief writes, so only it holds the folder
        return train_and_report(config, output, strategy, args.verbose, getattr(args, "command", None))
    with RunLock(output):
        start_run(output, config, overwrite=getattr(args, "overwrite", False))
        return train_and_report(config, output, strategy, args.verbose, getattr(args, "command", None))


# Where a run writes, not what it trains: a rerun may change them.
WHERE_KEYS = ("output", "tensorboard")


def start_run(output, config, overwrite=False):
    """Makes `output` the folder of this run: refuses one that holds another run or a finished
    one (unless `overwrite`, which clears it), and records the config."""
    from kerasner.run_folder import clear_run, differences, write_atomically
    from kerasner.training import RUN_FILES
    from kerasner.training_config import CONFIG_FILE

    recorded_file = output / CONFIG_FILE
    wanted = {key: value for key, value in config.to_dict().items() if key not in WHERE_KEYS}
    if overwrite:
        clear_run(output, RUN_FILES + REPORT_FILES + (CONFIG_FILE,))
    elif recorded_file.is_file():
        try:
            recorded = {key: value for key, value in json.loads(recorded_file.read_text()).items() if key not in WHERE_KEYS}
        except ValueError:
            raise ValueError(f"{recorded_file}: not valid JSON; pass --overwrite to start afresh") from None
        changed = differences(recorded, wanted)
        if changed:
            raise ValueError(
                f"{output} holds another run, started with other settings ({'; '.join(changed)}); run it with "
                f"--config {recorded_file}, choose another --output, or pass --overwrite to start afresh"
            )
        if (output / "metrics.json").is_file():
            try:
                f1 = f", validation entity F1 {json.loads((output / 'metrics.json').read_text())['entity']['f1']:.4f}"
            except (ValueError, KeyError, TypeError):
                f1 = ""
            raise ValueError(
                f"{output} holds a finished run (metrics.json{f1}); its model is {output / 'best'}. Choose another "
                "--output, or pass --overwrite to train it again"
            )
    elif any((output / name).exists() for name in RUN_FILES + REPORT_FILES):
        raise ValueError(
            f"{output} holds files of a run without {CONFIG_FILE}; choose another --output, or pass --overwrite"
        )
    write_atomically(recorded_file, json.dumps(config.to_dict(), indent=2) + "\n")


def oversampled_line(oversampled):
    """What `kerasner.oversample` did, in one line."""
    types = oversampled["types"]
    if not types:
        return f"oversampling: no entity type has fewer than {oversampled['min_entities']:,} entities"
    repeated = ", ".join(
        f"{name} {value['entities']:,} -> {value['entities_after']:,} entities (x{value['repeats']})" for name, value in types.items()
    )
    return f"oversampled {repeated}: {oversampled['added_sentences']:,} training sentences added"


def tensorboard_callback(log_dir):
    """Keras' TensorBoard callback: loss, entity F1 and the learning rate per epoch in `log_dir`."""
    import tf_keras as keras

    return keras.callbacks.TensorBoard(log_dir, update_freq="epoch", profile_batch=0)


def train_and_report(config, output, strategy, verbose, command=None):
    import kerasner
    from kerasner.commands.run_report import (
        evaluate_features, evaluate_raw_text, plot_history, plot_per_type_f1, raw_text_line, summary_line, write_json,
    )
    from kerasner.commands.run_setup import load_model, load_splits

    started = time.perf_counter()
    chief = kerasner.is_chief(strategy)
    if config.strategy != "default":
        print(f"strategy: {type(strategy).__name__}, {strategy.num_replicas_in_sync} replicas; global batch {config.batch_size}")
    if config.mixed_precision != "off":
        print(f"mixed precision: {kerasner.set_mixed_precision(config.mixed_precision)}")
    train, validation, labels, data_stats = load_splits(
        config.data, config.train, config.validation, config.format, config.scheme, config.validation_size,
        config.seed, encoding=config.encoding, allow_new_labels=config.allow_new_labels, context=config.context,
        word_splitter=config.word_splitter, **config.reader_options(),
    )
    if chief:
        kerasner.write_sentences(validation, output / "validation.jsonl")
    print(
        f"data: {data_stats['train_sentences']:,} training and {data_stats['validation_sentences']:,} validation "
        f"sentences, {len(labels)} labels, read in {data_stats['read_seconds']:.1f} s"
    )
    with strategy.scope():
        model = load_model(config.model, train, labels, dropout=config.dropout, seed=config.seed, head=config.head)
    model.word_splitter = config.word_splitter
    model.context = config.context
    if config.oversample:
        train = kerasner.oversample(train, config.oversample)
        data_stats["oversampled"] = train.stats["oversampled"]
        print(oversampled_line(data_stats["oversampled"]))
    learning_rate = config.learning_rate or kerasner.default_learning_rate(model.encoder.config.hidden_size)
    preprocessor = kerasner.TokenClassificationPreprocessor(
        model.tokenizer,
        model.labels,
        max_length=model.max_input_length(config.max_length),
        stride=config.stride,
        label_all_subtokens=config.label_all_subtokens,
        context=config.context,
    )
    pack, pool_batches = kerasner.resolve_batching(model, config.pack, config.pool_batches)
    tokenize_start = time.perf_counter()
    train_features = preprocessor(train, progress=verbose > 0)
    validation_features = preprocessor(validation, progress=verbose > 0)
    print(
        f"tokenized in {time.perf_counter() - tokenize_start:.1f} s: {train_features.stats['tokens']:,} training "
        f"sub-tokens; sentences split into windows (longer than {preprocessor.max_length}): "
        f"{train_features.stats['windowed_sentences']} training, {validation_features.stats['windowed_sentences']} validation; "
        f"padding overhead {train_features.padding_overhead(config.batch_size, pool_batches=pool_batches, max_tokens=config.max_tokens, pack=pack):.2f}x"
        f" ({'random batches' if pool_batches == 1 else f'pools of {pool_batches} batches'}{', packed' if pack else ''})"
    )
    context = f", {config.context} sub-tokens of context a side" if config.context else ""
    print(f"model: {config.model} ({model.encoder.count_params():,} encoder parameters), {model.head} head{context}")
    history = kerasner.train_token_classifier(
        model,
        train_features,
        validation_features,
        output,
        epochs=config.epochs,
        max_epochs=config.max_epochs,
        batch_size=config.batch_size,
        max_tokens=config.max_tokens,
        pool_batches=pool_batches,
        pack=pack,
        learning_rate=learning_rate,
        warmup_ratio=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lazy_embeddings=config.lazy_embeddings,
        gradient_accumulation_steps=config.gradient_accumulation,
        strategy=strategy,
        seed=config.seed,
        patience=config.patience,
        jit_compile=config.jit,
        mode="strict" if config.strict else "default",
        decode=config.decode,
        verbose=verbose,
        callbacks=[tensorboard_callback(config.tensorboard)] if config.tensorboard and chief else [],
    )
    if not chief:
        f1 = history.history["val_entity_f1"][-1]
        print(f"training done, last validation entity F1 {f1:.4f}; the chief worker writes the model and the report")
        return 0
    best = kerasner.BertTokenClassifier.from_pretrained(output / "best")
    result = evaluate_features(best, validation_features, decode=config.decode)
    raw_text = evaluate_raw_text(
        kerasner.EntityPredictor(best, max_length=config.max_length, stride=config.stride, decode=config.decode), validation
    )
    (output / "report.txt").write_text(result["report"])
    speeds = [speed for speed in history.history.get("train_tokens_per_second", []) if speed is not None]
    best_epoch = history.best_epoch
    epochs_done = len(history.epoch)
    plan = history.plan
    if history.stopped_epoch is not None:
        stop = f"stopped after epoch {history.stopped_epoch} of {plan.epochs}: no better validation entity F1 since epoch {best_epoch}"
    else:
        stop = f"trained all {plan.epochs} planned epochs"
    if not any(tag != "O" for tags in result["gold"] for tag in tags):
        print("warning: the validation sentences hold no entity; entity scores are 0", file=sys.stderr)
    metrics = {
        "entity": result["entity"],
        "entity_strict": result["entity_strict"],
        "token_accuracy": result["token_accuracy"],
        "raw_text": raw_text,
        "decode": config.decode,
        "head": best.head,
        "word_splitter": best.word_splitter,
        "best_epoch": best_epoch,
        "epochs": epochs_done,
        "training_plan": {**plan.to_dict(), "stopped_epoch": history.stopped_epoch, "stop": stop},
        "train_sentences": data_stats["train_sentences"],  # without the repeats of --oversample
        "validation_sentences": len(validation),
        "validation_words": result["words"],
        "windowed_sentences": {
            "train": train_features.stats["windowed_sentences"],
            "validation": validation_features.stats["windowed_sentences"],
        },
        "train_tokens_per_second": float(sum(speeds) / len(speeds)) if speeds else None,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "model": config.model,
        "learning_rate": learning_rate,
        "config": config.to_dict(),
        "data": data_stats,
        "kerasner_version": kerasner.__version__,
    }
    plot_history(output / "history.csv", output / "training.png")
    plot_per_type_f1(result["entity"], output / "per_type_f1.png")
    from kerasner.model_card import CARD_FILE, model_card
    from kerasner.run_folder import write_atomically

    write_atomically(output / "best" / CARD_FILE, model_card(best, metrics, command))
    write_json(output / "metrics.json", metrics)  # last: a folder with metrics.json holds a finished run
    print(result["report"])
    print(f"training: {stop}; best epoch {best_epoch}")
    print(f"validation {summary_line(result)}; best epoch {best_epoch} of {epochs_done}")
    print(f"validation {raw_text_line(raw_text)}")
    print(f"wrote {output}/: best/ metrics.json history.csv report.txt training.png per_type_f1.png validation.jsonl config.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
