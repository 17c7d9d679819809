"""``python -m lablb``."""

import sys

from lablb.cli import main

sys.exit(main())
