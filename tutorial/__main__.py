"""`python -m tutorial ...` is the `tutorial` command."""

import sys

from tutorial.cli import main

sys.exit(main())
