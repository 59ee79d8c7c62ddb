"""``python -m mmolre``: the command line (:mod:`mmolre.cli`)."""

import sys

from mmolre.cli import main

if __name__ == "__main__":
    sys.exit(main())
