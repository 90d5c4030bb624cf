"""Measure kerasner against the usual recipes; every comparison runs side by side in one process.

Commands:
    data   read, split and tokenize a corpus; print the time of each step and the padding overhead
           of kerasner's length-bucketed batches against padding every sentence to a fixed length.

Examples:
    python scripts/benchmark.py data --data $KERASNER_DATA_DIR/gmb/ner_dataset.csv --model $KERASNER_MODEL_DIR
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def build_parser():
    parser = argparse.ArgumentParser(prog="benchmark.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="Time reading, splitting and tokenizing; compare padding overheads.")
    data.add_argument("--data", required=True, help="Labelled corpus (e.g. GMB ner_dataset.csv).")
    data.add_argument("--model", required=True, help="Directory or hub name of the tokenizer to use.")
    data.add_argument("--batch-size", type=int, default=32, help="Batch size. Defaults to 32.")
    data.add_argument("--fixed-length", type=int, default=128, help="Length every sentence is padded to by the classic recipe. Defaults to 128.")
    data.add_argument("--output", help="Also write the numbers as JSON to this file.")
    return parser


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
    bucketed = features.padding_overhead(args.batch_size)
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
            f"kerasner_bucketed_batch{args.batch_size}": round(bucketed, 3),
            f"fixed_length_{args.fixed_length}": round(fixed, 3),
            "ratio": round(fixed / bucketed, 2),
        },
    }
    print(f"{result['sentences']:,} sentences, {result['words']:,} words, {result['labels']} labels "
          f"({result['train_sentences']:,} train / {result['validation_sentences']:,} validation)")
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result["seconds"].items()))
    print(f"sentences longer than {args.fixed_length} sub-tokens, split into windows (the classic recipe truncates them): "
          f"{result['windowed_sentences']}")
    print(f"padding overhead (padded positions / real sub-tokens), batch {args.batch_size}:")
    print(f"  kerasner length-bucketed, multiple of 8: {bucketed:.3f}x")
    print(f"  every sentence padded to {args.fixed_length}:        {fixed:.3f}x  ({fixed / bucketed:.2f}x more positions)")
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return {"data": data_command}[args.command](args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
