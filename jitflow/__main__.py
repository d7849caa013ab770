"""``python -m jitflow ...``: the ``jitflow`` command line (see ``jitflow.tools.cli``)."""
import sys

from .tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
