"""`python -m sock8`: the `sock8` command (`python -m sock8 gateway --port 8787`)."""

from __future__ import annotations

import sys

from sock8.cli import main

if __name__ == "__main__":
    sys.exit(main())
