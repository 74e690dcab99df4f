"""Write the digits data as train/validation .npz splits (the `training` channel). Run: python -m train.digits.prepare

The data ships inside scikit-learn, so nothing is downloaded. Needs scikit-learn on the laptop only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

VALIDATION_FRACTION = 0.2
SPLIT_SEED = 0


def write_splits(out_dir: Path) -> dict[str, int]:
    """Write train.npz and validation.npz (x: float32 in [0, 1], y: int64) and return their sizes."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=VALIDATION_FRACTION, random_state=SPLIT_SEED, stratify=y
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "train.npz", x=x_train, y=y_train)
    np.savez(out_dir / "validation.npz", x=x_val, y=y_val)
    return {"train": len(y_train), "validation": len(y_val)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("data/digits"), help="output directory")
    sizes = write_splits(parser.parse_args().out)
    print(f"wrote {sizes['train']} training and {sizes['validation']} validation examples")


if __name__ == "__main__":
    main()
