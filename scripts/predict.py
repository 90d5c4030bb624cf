"""`kerasner predict`, as a script: `python scripts/predict.py --help` equals `kerasner predict --help`."""

import sys

from kerasner.commands.predict import main

if __name__ == "__main__":
    sys.exit(main())
