"""`python -m train` (and the image's `train` command): run the job, with the code it shipped if any."""

from __future__ import annotations

from train.contract.timeline import mark

mark("container_start")

from train.runtime.bootstrap import main  # noqa: E402  (the mark comes first: it times the imports)

if __name__ == "__main__":
    main()
