"""What every kerasner command shares: parse the flags, run, turn bad input into one line, and keep
TensorFlow's log lines out of the output."""

import contextlib
import os
import re
import sys
import threading

from kerasner.decoding import DECODES
from kerasner.word_splitter import SPLITTERS


def run_command(parser, run, argv=None):
    """Parses `argv` with `parser` and calls `run(args)`.

    Bad input (`ValueError`, which includes `DataFormatError`, and `OSError`, which includes a
    missing file) prints `error: <reason>` on one line to stderr and returns 2; there is no
    traceback. Other exceptions are bugs and propagate.
    """
    args = parser.parse_args(argv)
    try:
        with native_logs_filtered():
            return run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


# TensorFlow's C++ log lines ("I0000 00:00:1796175148.024696   20355 port.cc:153] oneDNN ...",
# "E0000 ... failed call to cuInit") and absl's notice before them. TF_CPP_MIN_LOG_LEVEL no longer
# holds them back in TensorFlow 2.21.
NATIVE_LOG = re.compile(rb"[IWEF]\d{4} \d+:\d+:\d+\.\d+ +\d+ [^ \]]+:\d+\] |WARNING: All log messages before absl::InitializeLog\(\) is called")
_MAYBE_LOG = re.compile(rb"[IWEF]\d{0,4}( \d*(:\d*(:\d*(\.\d*( +\d*( [^ \]\n]*)?)?)?)?)?)?$|W(A(R(N(I(N(G(:.*)?)?)?)?)?)?)?$")


@contextlib.contextmanager
def native_logs_filtered():
    """Drops TensorFlow's native log lines from the process's stderr (file descriptor 2), unless
    `TF_CPP_MIN_LOG_LEVEL` is 0 (`kerasner --verbose`). Everything else written there passes
    through as it comes, progress bars included; on a terminal, stderr stays a terminal."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        yield
        return
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # its Python warnings, "slow callback" and others
    sys.stderr.flush()
    original = os.dup(2)
    if os.isatty(original):
        import pty
        import tty

        reader, writer = pty.openpty()
        tty.setraw(writer)
    else:
        reader, writer = os.pipe()
    os.dup2(writer, 2)
    os.close(writer)
    pump = threading.Thread(target=_forward, args=(reader, original), daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # the last writer of the pipe closes: the pump reads its end
        pump.join(timeout=5)
        os.close(original)


def _forward(reader, target):
    """Copies `reader` to `target` but for whole lines that are native log lines."""
    pending = b""
    while True:
        try:
            chunk = os.read(reader, 1 << 16)
        except OSError:  # a pseudo-terminal whose other end closed
            chunk = b""
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        out = b"".join(line + b"\n" for line in lines if not NATIVE_LOG.match(line))
        if pending and not _MAYBE_LOG.match(pending):  # a progress bar's line in the making
            out, pending = out + pending, b""
        if out:
            os.write(target, out)
    if pending and not NATIVE_LOG.match(pending):
        os.write(target, pending)
    os.close(reader)


def add_decode_argument(parser):
    """Adds `--decode` (see `kerasner.decode_words`) to `parser` or an argument group."""
    parser.add_argument(
        "--decode", default="viterbi", choices=DECODES,
        help="How word scores become tags: viterbi, the most probable valid IOB2 sequence (no I- after O or "
        "after another type), or argmax, each word's most probable label on its own. Defaults to viterbi.",
    )


def add_word_splitter_argument(parser, default=None):
    """Adds `--word-splitter` (see `kerasner.WordSplitter`); None stands for the model's own."""
    saved = "Defaults to the splitter saved with the model." if default is None else f"Defaults to {default}."
    parser.add_argument(
        "--word-splitter", default=default, choices=SPLITTERS,
        help="How raw text is split into words: treebank (the word boundaries of CoNLL, GMB and WNUT: 'U.S.', "
        "'al-Qaida', '5,000', URLs and @handles stay one word; clitics and punctuation are split off), whitespace, "
        f"or pretokenizer (the tokenizer's own: every punctuation mark a word). {saved}",
    )


# Options of `kerasner.read_sentences` that the commands reading labelled files take as flags.
READER_OPTIONS = ("word_column", "tag_column", "sentence_column", "delimiter", "tokens_key", "tags_key", "label_names")


def add_data_format_arguments(group):
    """Adds `--format` and the reader options (`READER_OPTIONS`) to a parser or argument group."""
    from kerasner.formats import FORMATS

    group.add_argument("--format", choices=FORMATS, help="File format: csv, conll, jsonl, hf-jsonl (integer tags), labelstudio (a JSON export), doccano (JSON lines) or brat (an .ann file or a folder). Defaults to detection from the content.")
    group.add_argument("--word-column", help="CSV: the word column's name (default Word); CoNLL: its index (default 0).")
    group.add_argument("--tag-column", help="CSV: the tag column's name (default Tag); CoNLL: its index (default -1, the last).")
    group.add_argument("--sentence-column", help="CSV: the column filled on each sentence's first row. Defaults to 'Sentence #'.")
    group.add_argument("--delimiter", help="CSV: the cell delimiter. Defaults to ','.")
    group.add_argument("--tokens-key", help="JSON lines: the key of the words. Defaults to tokens.")
    group.add_argument("--tags-key", help="JSON lines: the key of the tags. Defaults to tags (hf-jsonl: ner_tags).")
    group.add_argument("--label-names", help="hf-jsonl: the names of the integer tags, comma-separated or a file (a dataset_info.json, or one name a line). Defaults to the dataset_info.json beside the data.")


def reader_options(values):
    """The reader options set in `values` (parsed flags or a dict), CoNLL column indices as ints."""
    values = values if isinstance(values, dict) else vars(values)
    options = {name: values[name] for name in READER_OPTIONS if values.get(name) is not None}
    for name in ("word_column", "tag_column"):
        if isinstance(options.get(name), str) and options[name].lstrip("-").isdigit():
            options[name] = int(options[name])
    return options
