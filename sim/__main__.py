"""`python -m sim` is `escsim`."""

import sys

from .cli import main

sys.exit(main())
