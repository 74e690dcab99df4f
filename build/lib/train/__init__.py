"""The container side: SageMaker's /opt/ml contract, the run-time plumbing, and the tasks (train/<task>/).

`train` spans every `train/` directory on the import path: the job's shipped code (its `code` channel, first
on the path) and the image's copy. So a project's own tasks (`train/<name>/`, shipped as code) sit beside the
runtime the image holds.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
