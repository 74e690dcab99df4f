"""`python -m train` (and the image's `train` command): run the job, with the code it shipped if any."""

from __future__ import annotations

from train.bootstrap import main

if __name__ == "__main__":
    main()
