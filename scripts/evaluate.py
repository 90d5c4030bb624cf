"""`kerasner evaluate`, as a script: `python scripts/evaluate.py --help` equals `kerasner evaluate --help`."""

import sys

from kerasner.commands.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
