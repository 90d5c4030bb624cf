"""The `kerasner` command: `kerasner train|evaluate|predict|tune|export|convert [ARGS]`.

Each subcommand's module is imported only when it runs, and TensorFlow only when work starts,
so `--help` answers at once.
"""

import importlib
import os
import sys

from kerasner.version import __version__

COMMANDS = {
    "train": "Fine-tune a BERT token classifier; write the best model, metrics and a report.",
    "evaluate": "Score a saved model on labelled files: entity F1 per type, at the words or as raw text.",
    "predict": "Entities of raw text (JSON lines with character offsets), or tags of words.",
    "tune": "Search hyperparameters with keras-tuner, ranked by validation entity F1.",
    "export": "Write a saved model as a TensorFlow SavedModel that takes raw text (TF Serving layout).",
    "convert": "Convert labelled data: CoNLL, CSV, JSON lines, hub JSON lines, Label Studio, doccano, brat.",
}

USAGE = f"""usage: kerasner [--version] [--verbose] COMMAND [ARGS]

Fine-tune BERT for named-entity recognition, and ship the model.

commands:
{chr(10).join(f"  {name:<10}{text}" for name, text in COMMANDS.items())}

options:
  --version   print kerasner's version
  --verbose   let TensorFlow's and transformers' log lines through

`kerasner COMMAND --help` describes a command."""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    while argv and argv[0] in ("--verbose", "-v"):
        argv.pop(0)
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        os.environ["TRANSFORMERS_VERBOSITY"] = "info"
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"kerasner {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"{USAGE}\n\nkerasner: error: unknown command {argv[0]!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    command = importlib.import_module(f"kerasner.commands.{argv[0]}")
    return command.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
