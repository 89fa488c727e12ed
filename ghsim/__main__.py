"""`python -m ghsim`: run the simulator."""

from __future__ import annotations

from ghsim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
