"""What every kerasner script shares: parse the flags, run, turn bad input into one line."""

import sys

from kerasner.viterbi_decode import DECODES
from kerasner.word_splitter import SPLITTERS


def run_command(parser, run, argv=None):
    """Parses `argv` with `parser` and calls `run(args)`.

    Bad input (`ValueError`, which includes `DataFormatError`, and `OSError`, which includes a
    missing file) prints `error: <reason>` on one line to stderr and returns 2; there is no
    traceback. Other exceptions are bugs and propagate.
    """
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


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
