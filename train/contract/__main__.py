"""`python -m train.contract` prints the image's `train` command (the Dockerfile writes it at build time)."""

from __future__ import annotations

from train.contract.paths import entrypoint_script

print(entrypoint_script(), end="")
