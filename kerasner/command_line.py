"""What every kerasner script shares: parse the flags, run, turn bad input into one line."""

import sys

from kerasner.viterbi_decode import DECODES


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
