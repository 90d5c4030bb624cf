"""Find entities in raw text with a saved kerasner model; one JSON line per input text.

Examples:
    kerasner predict --model runs/train/best --text "Anna Keller arrived in Lisbon on Monday."
    kerasner predict --model runs/train/best --input texts.txt > entities.jsonl
    cat texts.txt | kerasner predict --model runs/train/best
    kerasner predict --model runs/train/best --input words.conll --input-format conll > tagged.conll
    kerasner predict --model runs/train/best --input texts.txt --output-format labelstudio > tasks.json
    kerasner predict --model runs/train/best --input records.jsonl --input-format jsonl --min-score 0.5

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

With --input-format jsonl, each line is an object with the text under "text", or words under
"tokens" or "words"; its other keys (an "id") pass through to the output. With conll (one word
a line, blank lines between sentences) or jsonl words, the words are taken as given and each
gets one tag: CoNLL word<TAB>tag lines, or the JSON object with "tags" added.

--output-format labelstudio writes a JSON array of Label Studio tasks holding the entities as
scored predictions (import it, correct the pre-annotations, export, and train on the export);
doccano writes its JSON lines; conll writes each text's words and tags. --min-score leaves out
entities scored below it.
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
    parser.add_argument("--input-format", default="text", choices=["text", "conll", "jsonl"], help="text: one raw text a line; conll: one word a line, sentences separated by blank lines; jsonl: objects with the raw text under 'text' or the words under 'tokens' or 'words' (the other keys, such as an id, pass through). Defaults to text.")
    parser.add_argument("--output-format", choices=["jsonl", "conll", "labelstudio", "doccano"], help="jsonl: a JSON object a text, with its entities (or the words' tags); conll: word<TAB>tag lines; labelstudio: a JSON array of tasks with the entities as scored predictions, to import as pre-annotations; doccano: JSON lines with [start, end, label] spans. Defaults to conll for --input-format conll, else jsonl.")
    parser.add_argument("--min-score", type=float, default=0.0, help="Leave out entities scored below this probability (their words are tagged O). Defaults to 0.")
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
    from kerasner.commands.prediction_files import PredictionWriter, read_lines

    if args.text is not None and args.input_format != "text":
        raise ValueError("--text takes raw text; pass pre-split words with --input or standard input")
    if args.document and args.input_format != "text":
        raise ValueError("--document reads raw text lines (--input-format text)")
    if not 0.0 <= args.min_score <= 1.0:
        raise ValueError(f"--min-score is a probability, from 0 to 1. Received: {args.min_score}")
    output_format = args.output_format or ("conll" if args.input_format == "conll" else "jsonl")
    predictor = kerasner.EntityPredictor.from_pretrained(args.model, batch_size=args.batch_size, max_length=args.max_length, decode=args.decode, word_splitter=args.word_splitter)
    out = sys.stdout
    writer = PredictionWriter(out, output_format, args.min_score, model_version=f"kerasner {kerasner.__version__}: {args.model}")
    handle = open(args.input, "rb") if args.input else sys.stdin.buffer
    name = args.input or "<stdin>"
    split = predictor.split_words if output_format == "conll" else lambda text: None  # noqa: E731
    try:
        lines = enumerate(args.text, 1) if args.text is not None else read_lines(handle, name)
        if args.document:
            for document in documents(text for _, text in lines):
                for text, entities in zip(document, predictor.predict_document(document) if document[0] else [[]]):
                    writer.text(None, text, entities, split(text))
                out.flush()
        else:
            for batch in batches(inputs(lines, name, args.input_format), LINES_PER_BATCH):
                word_lists = [words for _, _, words in batch if words is not None]
                tags, scores = predictor.predict_words(word_lists, return_scores=True) if word_lists else ([], [])
                tagged = iter(zip(tags, scores))
                found = iter(predictor.predict([text for _, text, words in batch if words is None and len(text) <= LONG_TEXT]))
                for record, text, words in batch:
                    if words is not None:
                        writer.words(record, words, *next(tagged))
                    else:
                        entities = next(found) if len(text) <= LONG_TEXT else predictor.iter_entities(text)
                        writer.text(record, text, entities, split(text))
                out.flush()
        writer.close()
    finally:
        if args.input:
            handle.close()
    return 0


def inputs(lines, name, input_format):
    """`(record, text, words)` of each input: a raw text (`words` None) or pre-split words;
    `record` is the input's JSON object (None for text and CoNLL lines)."""
    from kerasner.commands.prediction_files import WORDS_KEYS, is_text_record, read_conll_words, read_json_records
    from kerasner.errors import DataFormatError, cut

    if input_format == "text":
        yield from ((None, text, None) for _, text in lines)
    elif input_format == "conll":
        yield from ((None, None, words) for words in read_conll_words(lines))
    else:
        for number, record in read_json_records(lines, name):
            if is_text_record(record):
                if not isinstance(record["text"], str):
                    raise DataFormatError(name, number, "'text' must be a string", cut(repr(record["text"])))
                yield record, record["text"], None
                continue
            words = next((record[key] for key in WORDS_KEYS if key in record), None)
            if not isinstance(words, list) or not words or not all(isinstance(word, str) and word.strip() for word in words):
                raise DataFormatError(
                    name, number, f"expected an object with a 'text' string or a list of non-empty words under one of {list(WORDS_KEYS)}", cut(repr(record))
                )
            yield record, None, words


if __name__ == "__main__":
    sys.exit(main())
