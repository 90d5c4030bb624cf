"""Find entities in raw text with a saved kerasner model; one JSON line per input text.

Examples:
    python scripts/predict.py --model runs/train/best --text "Anna Keller arrived in Lisbon on Monday."
    python scripts/predict.py --model runs/train/best --input texts.txt > entities.jsonl
    cat texts.txt | python scripts/predict.py --model runs/train/best

Each output line is {"text": ..., "entities": [{"text", "label", "start", "end", "score"}]}, with
character offsets into the input text. Each input line is one text; empty lines give no entities.
"""

import argparse
import json
import sys

import environment_defaults  # noqa: F401  (sets TensorFlow's environment before it is imported)


def build_parser():
    from kerasner.command_line import add_decode_argument

    parser = argparse.ArgumentParser(prog="predict.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Folder of a saved kerasner model (e.g. runs/train/best).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", action="append", help="A text to label; repeat for several. Without --text or --input, lines are read from standard input.")
    source.add_argument("--input", help="A UTF-8 file with one text per line.")
    parser.add_argument("--batch-size", type=int, default=32, help="Windows per prediction batch. Defaults to 32.")
    parser.add_argument("--max-length", type=int, help="Longest window in sub-tokens; longer texts are split into overlapping windows. Defaults to the model's maximum.")
    add_decode_argument(parser)
    return parser


def main(argv=None):
    from kerasner.command_line import run_command

    return run_command(build_parser(), run, argv)


def run(args):
    import kerasner

    if args.text:
        texts = args.text
    elif args.input:
        with open(args.input, encoding="utf-8") as handle:
            texts = handle.read().split("\n")
        if texts and texts[-1] == "":
            texts.pop()
    else:
        texts = sys.stdin.read().split("\n")
        if texts and texts[-1] == "":
            texts.pop()
    predictor = kerasner.EntityPredictor.from_pretrained(args.model, batch_size=args.batch_size, max_length=args.max_length, decode=args.decode)
    for text, entities in zip(texts, predictor.predict(texts)):
        print(json.dumps({"text": text, "entities": entities}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
