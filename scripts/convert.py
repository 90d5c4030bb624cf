"""`kerasner convert`, as a script: `python scripts/convert.py --help` equals `kerasner convert --help`."""

import sys

from kerasner.commands.convert import main

if __name__ == "__main__":
    sys.exit(main())
