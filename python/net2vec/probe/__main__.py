"""python -m net2vec.probe: the converters' command line (cli.py)."""

import sys

from .cli import main

sys.exit(main())
