"""Allow `python -m launcher ...` as an alias of the `smlaunch` command."""

from __future__ import annotations

from launcher.cli import main

if __name__ == "__main__":
    main()
