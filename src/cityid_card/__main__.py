"""``python -m cityid_card``: the cityid-card command line."""

import sys

from .cli import main

sys.exit(main())
