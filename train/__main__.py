"""`python -m train` (and the image's `train` command): run the training job in this container."""

from __future__ import annotations

from train.runtime import main

if __name__ == "__main__":
    main()
