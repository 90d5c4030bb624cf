"""`kerasner export`, as a script: `python scripts/export.py --help` equals `kerasner export --help`."""

import sys

from kerasner.commands.export import main

if __name__ == "__main__":
    sys.exit(main())
