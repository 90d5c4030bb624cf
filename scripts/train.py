"""`kerasner train`, as a script: `python scripts/train.py --help` equals `kerasner train --help`."""

import sys

from kerasner.commands.train import main

if __name__ == "__main__":
    sys.exit(main())
