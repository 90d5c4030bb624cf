"""Convert labelled data between formats: CoNLL, GMB CSV, JSON lines, the hub's integer-tagged
JSON lines, and the exports of Label Studio, doccano and brat.

Examples:
    kerasner convert --input export.json --to conll --output train.conll
    kerasner convert --input ner_dataset.csv --to labelstudio --output tasks.json
    kerasner convert --input annotations/ --format brat --to jsonl --output train.jsonl

Span annotations become words as kerasner trains on them (--word-splitter, treebank by
default); spans that do not fall on word boundaries are kept exact and counted. Written back to
a span format, a sentence read from one keeps its text and its spans; other sentences are
written as their words joined into text. brat output is a folder: a .txt and an .ann a document.
"""

import argparse
import sys


def build_parser():
    from kerasner.commands.command_line import add_data_format_arguments
    from kerasner.word_splitter import SPLITTERS

    parser = argparse.ArgumentParser(prog="kerasner convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="Labelled file (or brat folder) to read.")
    add_data_format_arguments(parser)
    parser.add_argument("--scheme", default="auto", choices=["auto", "iob2", "iob1", "iobes", "bilou"], help="Tag scheme of the input; written as IOB2. Defaults to auto.")
    parser.add_argument("--encoding", help="Text encoding of the input. Defaults to UTF-8, falling back to Windows-1252.")
    parser.add_argument("--word-splitter", default="treebank", choices=[s for s in SPLITTERS if s != "pretokenizer"], help="How the span formats' texts are split into words. Defaults to treebank.")
    parser.add_argument("--to", required=True, choices=["jsonl", "conll", "hf-jsonl", "labelstudio", "doccano", "brat"], help="Output format (hf-jsonl also writes dataset_info.json beside the file).")
    parser.add_argument("--output", required=True, help="Output file (a folder for brat).")
    return parser


def main(argv=None):
    from kerasner.commands.command_line import run_command

    return run_command(build_parser(), run, argv)


def run(args):
    import logging

    import kerasner
    from kerasner.commands.command_line import reader_options

    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.WARNING)
    sentences = kerasner.read_sentences(
        args.input, format=args.format, scheme=args.scheme, encoding=args.encoding, word_splitter=args.word_splitter, **reader_options(args)
    )
    kerasner.write_sentences(sentences, args.output, format=args.to)
    stats = sentences.stats
    changed = [f"{len(stats['misaligned_spans']):,} spans off word boundaries kept exact"] if stats.get("misaligned_spans") else []
    changed += [f"{stats[key]:,} {what}" for key, what in (
        ("repaired", "I- tags repaired to B-"), ("from_predictions", "tasks read from their predictions"),
        ("unlabelled_tasks", "unlabelled tasks left out"), ("other_results", "non-span results left out"),
        ("other_annotations", "brat annotations that are not entities left out"), ("empty_texts", "records without words left out"),
    ) if stats.get(key)]
    entities = sum(tag.startswith("B-") for sentence in sentences for tag in sentence.tags)
    print(
        f"read {stats['sentences']:,} sentences, {stats['words']:,} words, {entities:,} entities ({stats['format']}, "
        f"{stats['scheme']}){'; ' + '; '.join(changed) if changed else ''}; wrote {args.output} ({args.to})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
