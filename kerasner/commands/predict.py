"""Find entities in raw text with a saved kerasner model; one JSON line per input text.

Examples:
    kerasner predict --model runs/train/best --text "Anna Keller arrived in Lisbon on Monday."
    kerasner predict --model runs/train/best --input texts.txt > entities.jsonl
    cat texts.txt | kerasner predict --model runs/train/best
    kerasner predict --model runs/train/best --input words.conll --input-format conll > tagged.conll

Each output line is {"text": ..., "entities": [{"text", "label", "start", "end", "score"}]}, with
character offsets (Python string indices) into the input text. Each input line is one text:
lines end at a line feed only, a byte-order mark at the start is dropped, and an empty line
gives no entities, so there is exactly one output line per input line, in order. Text is split
into words the way the model was trained (its saved word splitter). Input is read and written
a batch of lines at a time; a text longer than a block of words is read a block at a time, so
memory grows with the longest line (about three times its size), not with the input.

With --document, the lines are a document's consecutive sentences (or paragraphs), and an
empty line ends a document: a model trained with --context reads each line between the text of
its neighbours.

With --input-format conll (one word a line, blank lines between sentences) or jsonl (objects
with "tokens" or "words"), the words are taken as given and each gets one tag: CoNLL word<TAB>tag
lines, or the JSON object with "tags" added.
"""

import argparse
import sys


LINES_PER_BATCH = 256
LONG_TEXT = 1 << 20  # characters; a longer text's entities are written as they are found


def build_parser():
    from kerasner.commands.command_line import add_decode_argument, add_word_splitter_argument

    parser = argparse.ArgumentParser(prog="kerasner predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Folder of a saved kerasner model (e.g. runs/train/best).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", action="append", help="A text to label; repeat for several. Without --text or --input, lines are read from standard input.")
    source.add_argument("--input", help="A UTF-8 file with one text per line (or words, with --input-format).")
    parser.add_argument("--input-format", default="text", choices=["text", "conll", "jsonl"], help="text: one raw text a line; conll: one word a line, sentences separated by blank lines; jsonl: objects with the words under 'tokens' or 'words'. Defaults to text.")
    parser.add_argument("--document", action="store_true", help="The text lines are a document's consecutive sentences, an empty line ending a document: a model trained with --context reads each with its neighbours.")
    parser.add_argument("--batch-size", type=int, default=32, help="Windows per prediction batch. Defaults to 32.")
    parser.add_argument("--max-length", type=int, help="Longest window in sub-tokens; longer texts are split into overlapping windows. Defaults to the model's maximum.")
    add_decode_argument(parser)
    add_word_splitter_argument(parser)
    return parser


def main(argv=None):
    from kerasner.commands.command_line import run_command

    return run_command(build_parser(), run, argv)


def batches(items, size):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def documents(texts):
    """Runs of consecutive non-empty texts, each empty text a run of its own."""
    document = []
    for text in texts:
        if text:
            document.append(text)
            continue
        if document:
            yield document
            document = []
        yield [text]
    if document:
        yield document


def run(args):
    import kerasner
    from kerasner.commands.prediction_files import read_lines, read_word_sentences, write_entities, write_tags

    if args.text is not None and args.input_format != "text":
        raise ValueError("--text takes raw text; pass pre-split words with --input or standard input")
    predictor = kerasner.EntityPredictor.from_pretrained(args.model, batch_size=args.batch_size, max_length=args.max_length, decode=args.decode, word_splitter=args.word_splitter)
    out = sys.stdout
    handle = open(args.input, "rb") if args.input else sys.stdin.buffer
    name = args.input or "<stdin>"
    try:
        lines = enumerate(args.text, 1) if args.text is not None else read_lines(handle, name)
        if args.input_format != "text":
            for batch in batches(read_word_sentences(lines, name, args.input_format), LINES_PER_BATCH):
                tags = predictor.predict_words([words for _, words in batch])
                for (record, words), sentence_tags in zip(batch, tags):
                    write_tags(out, args.input_format, record, words, sentence_tags)
                out.flush()
            return 0
        if args.document:
            for document in documents(text for _, text in lines):
                for text, entities in zip(document, predictor.predict_document(document) if document[0] else [[]]):
                    write_entities(out, text, entities)
                out.flush()
            return 0
        for batch in batches((text for _, text in lines), LINES_PER_BATCH):
            short = [text for text in batch if len(text) <= LONG_TEXT]
            found = iter(predictor.predict(short))
            for text in batch:
                write_entities(out, text, next(found) if len(text) <= LONG_TEXT else predictor.iter_entities(text))
            out.flush()
    finally:
        if args.input:
            handle.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
