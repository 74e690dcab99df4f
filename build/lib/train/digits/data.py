"""Load the digits splits from a channel directory as tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    """Features (float32, N×64) and labels (int64, N)."""

    x: torch.Tensor
    y: torch.Tensor


def load_split(path: Path) -> Split:
    if not path.exists():
        raise FileNotFoundError(f"data file {path} not found (did the data channel get its files?)")
    with np.load(path) as arrays:
        return Split(torch.from_numpy(arrays["x"]).float(), torch.from_numpy(arrays["y"]).long())
