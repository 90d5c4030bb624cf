"""Evaluate a saved kerasner model on a labelled file: entity scores, seqeval report, type confusion.

Examples:
    kerasner evaluate --model runs/train/best --data runs/train/validation.jsonl --output runs/eval
    kerasner evaluate --model runs/gmb/best --data test.conll --format conll

Writes OUTPUT/metrics.json (entity P/R/F1 overall and per type, in seqeval's default and strict
modes, and token accuracy), OUTPUT/report.txt and OUTPUT/confusion.png (word-level entity types).
With --raw-text, metrics.json also holds "raw_text": the scores of the same sentences given to the
predictor as ordinary text (exact character spans), which is what a user of `kerasner predict` receives.
"""

import argparse
import sys
from pathlib import Path



def build_parser():
    from kerasner.commands.command_line import add_data_format_arguments, add_decode_argument, add_word_splitter_argument

    parser = argparse.ArgumentParser(prog="kerasner evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Folder of a saved kerasner model (e.g. runs/train/best).")
    parser.add_argument("--data", required=True, help="Labelled file (any --format).")
    add_data_format_arguments(parser)
    parser.add_argument("--scheme", default="auto", choices=["auto", "iob2", "iob1", "iobes", "bilou"], help="Tag scheme of the file. Defaults to auto.")
    parser.add_argument("--batch-size", type=int, default=64, help="Prediction batch size. Defaults to 64.")
    parser.add_argument("--max-length", type=int, help="Longest window in sub-tokens. Defaults to the model's maximum.")
    add_decode_argument(parser)
    add_word_splitter_argument(parser)
    parser.add_argument("--raw-text", action="store_true", help="Also score the sentences as ordinary text: each is joined into text, the predictor finds entities in it, and exact character spans are scored.")
    parser.add_argument("--output", default="runs/evaluate", help="Output folder. Defaults to runs/evaluate.")
    return parser


def main(argv=None):
    from kerasner.commands.command_line import run_command

    return run_command(build_parser(), run, argv)


def run(args):
    import kerasner
    from kerasner.commands.run_report import (
        evaluate_features, evaluate_raw_text, plot_confusion, raw_text_line, summary_line, type_confusion, write_json,
    )

    model = kerasner.BertTokenClassifier.from_pretrained(args.model)
    from kerasner.commands.command_line import reader_options

    # Span annotations become words as the model splits text.
    splitter = kerasner.WordSplitter(args.word_splitter or model.word_splitter, tokenizer=model.tokenizer)
    sentences = kerasner.read_sentences(args.data, format=args.format, scheme=args.scheme, word_splitter=splitter, **reader_options(args))
    unknown = sorted({tag for s in sentences for tag in s.tags} - set(model.labels))
    if unknown:
        raise ValueError(f"{args.data}: tags {unknown} are not labels of the model ({model.labels})")
    if model.context and not any(s.context for s in sentences):  # a file in document order
        sentences = kerasner.add_context(sentences, model.context)
    preprocessor = kerasner.TokenClassificationPreprocessor(
        model.tokenizer, model.labels, max_length=model.max_input_length(args.max_length), context=model.context
    )
    features = preprocessor(sentences)
    result = evaluate_features(model, features, args.batch_size, decode=args.decode)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.txt").write_text(result["report"])
    metrics = {
        key: result[key] for key in ("entity", "entity_strict", "token_accuracy", "words", "sentences")
    }
    metrics["decode"] = args.decode
    metrics["windowed_sentences"] = features.stats["windowed_sentences"]
    metrics["data"] = sentences.stats
    metrics["model"] = str(args.model)
    if args.raw_text:
        predictor = kerasner.EntityPredictor(model, batch_size=args.batch_size, max_length=args.max_length, decode=args.decode, word_splitter=args.word_splitter)
        metrics["raw_text"] = evaluate_raw_text(predictor, sentences)
    write_json(output / "metrics.json", metrics)
    plot_confusion(*type_confusion(result["gold"], result["predicted"]), output / "confusion.png")
    print(result["report"])
    print(summary_line(result))
    if args.raw_text:
        print(raw_text_line(metrics["raw_text"]))
    print(f"wrote {output}/: metrics.json report.txt confusion.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
