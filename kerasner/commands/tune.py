"""Search fine-tuning hyperparameters with keras-tuner, maximising validation entity F1.

Examples:
    kerasner tune --model tiny --max-trials 4 --epochs 4 --output runs/search
    kerasner tune --data ner_dataset.csv --model bert-base-cased --tuner bayesian --max-trials 10 --epochs 3 --output runs/search

Writes OUTPUT/best_hyperparameters.json, which `kerasner train --config` reads. Each trial
trains from the pretrained weights in OUTPUT/search/trial_<id>/ (best model in best/). Started
again with the same --output, a search skips the trials it finished.
"""

import argparse
import sys
from pathlib import Path



def build_parser():
    from kerasner.commands.command_line import add_data_format_arguments
    from kerasner.training_config import DEFAULT_HEAD, DEFAULTS

    parser = argparse.ArgumentParser(prog="kerasner tune", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="Labelled file split into training and validation sets. Defaults to the embedded sample corpus.")
    parser.add_argument("--train", help="Training file, with --validation instead of --data.")
    parser.add_argument("--validation", help="Validation file, with --train.")
    add_data_format_arguments(parser)
    parser.add_argument("--validation-size", type=float, default=DEFAULTS.validation_size, help=f"Share of --data held out for validation. Defaults to {DEFAULTS.validation_size}.")
    parser.add_argument("--model", default=DEFAULTS.model, help=f"'tiny', a hub name such as bert-base-cased, or an encoder directory. Defaults to {DEFAULTS.model}.")
    parser.add_argument("--head", default=DEFAULT_HEAD, choices=["softmax", "crf"], help=f"The head of every trial (as kerasner train --head); best_hyperparameters.json keeps it. Defaults to {DEFAULT_HEAD}.")
    parser.add_argument("--tuner", default="random", choices=["random", "bayesian", "hyperband"], help="Search algorithm. Defaults to random.")
    parser.add_argument("--max-trials", type=int, default=10, help="Trials at most. Defaults to 10.")
    parser.add_argument("--epochs", type=int, help="Search epochs from 1 to this. Defaults to no epoch search: each trial plans its length as kerasner train does (hyperband: a budget of 3).")
    parser.add_argument("--learning-rate", type=float, nargs=2, metavar=("LOW", "HIGH"), help="Learning-rate range (log scale). Defaults to 3x either side of kerasner train's default for the encoder's width (tiny: 1e-4 3e-3).")
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="Batch sizes to try. Defaults to 16 32 64.")
    parser.add_argument("--max-length", type=int, help="Longest window in sub-tokens. Defaults to the model's maximum.")
    parser.add_argument("--strategy", default="default", choices=["default", "mirrored", "tpu"], help="tf.distribute strategy of every trial: default (one device), mirrored (every local GPU) or tpu. Defaults to default.")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help=f"Seed of the split and the search. Defaults to {DEFAULTS.seed}.")
    parser.add_argument("--output", default="runs/search", help="Output folder. Defaults to runs/search.")
    parser.add_argument("--overwrite", action="store_true", help="Start the search afresh instead of resuming it.")
    return parser


def main(argv=None):
    from kerasner.commands.command_line import run_command

    return run_command(build_parser(), run, argv)


def run(args):
    import kerasner
    from kerasner.commands.command_line import reader_options
    from kerasner.commands.run_setup import load_model, load_splits

    output = Path(args.output)
    train, validation, labels, stats = load_splits(
        args.data, args.train, args.validation, args.format, "auto", args.validation_size, args.seed, **reader_options(args)
    )
    model_source = args.model
    if args.model == "tiny":  # every trial starts from the same random initial weights
        model_source = output / "tiny-encoder"
        if not (model_source / "config.json").is_file():
            tiny = load_model("tiny", train, labels, seed=args.seed)
            tiny.encoder.save_pretrained(model_source)
            tiny.tokenizer.save_pretrained(model_source)
    model = kerasner.BertTokenClassifier.from_pretrained(model_source, labels=labels)
    preprocessor = kerasner.TokenClassificationPreprocessor(model.tokenizer, labels, max_length=model.max_input_length(args.max_length))
    train_features, validation_features = preprocessor(train), preprocessor(validation)
    del model
    ranges = {} if args.epochs is None else {"epochs": (1, args.epochs)}
    if args.learning_rate:
        ranges["learning_rate"] = tuple(args.learning_rate)
    elif args.model == "tiny":
        ranges["learning_rate"] = (1e-4, 3e-3)
    if args.batch_sizes:
        ranges["batch_size"] = args.batch_sizes
    hypermodel = kerasner.NerHyperModel(model_source, labels, head=args.head, **ranges)
    tuner = kerasner.NerTuner(
        hypermodel, args.tuner, max_trials=args.max_trials, max_epochs=args.epochs or 3, seed=args.seed,
        directory=output, project_name="search", overwrite=args.overwrite,
        distribution_strategy=kerasner.distribution_strategy(args.strategy),
    )
    print(f"searching {args.tuner}: {stats['train_sentences']:,} training, {stats['validation_sentences']:,} validation sentences")
    tuner.search(train_features, validation_features)
    tuner.results_summary(3)
    values = tuner.export_best_hyperparameters(output / "best_hyperparameters.json")
    print(f"best val_entity_f1 {values['_search']['val_entity_f1']:.4f}; wrote {output / 'best_hyperparameters.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
