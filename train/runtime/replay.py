"""`python -m train.runtime.replay TREE RUN_ID TRACKING_URI`: send what a job left unsent, after it ended.

The same door and the same code the job used (train.runtime.tracking.replay): every point of the job's metrics
journal that the run does not hold, and a model the job saved but could not log. The launcher runs it on a
local job's tree when the job left work behind, and `smlaunch status` on a cloud job's record (its output.tar.gz
and model.tar.gz unpacked). Prints one JSON line: what was sent, or the error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from train.contract.files import private_umask
from train.contract.paths import ContainerPaths


def main(argv: list[str]) -> int:
    private_umask()
    tree, run_id, tracking_uri = argv
    from train.runtime.tracking import replay

    try:
        report = replay(ContainerPaths(Path(tree)), tracking_uri, run_id)
    except Exception as error:
        text = str(error).strip().splitlines()
        print(json.dumps({"error": f"{type(error).__name__}: {text[0][:500] if text else ''}"}), flush=True)
        return 1
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
