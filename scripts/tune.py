"""`kerasner tune`, as a script: `python scripts/tune.py --help` equals `kerasner tune --help`."""

import sys

from kerasner.commands.tune import main

if __name__ == "__main__":
    sys.exit(main())
