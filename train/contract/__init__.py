"""The contract between the launcher and the job: the names, paths and file formats both sides agree on.

Stdlib only, and nothing runs at import: this room is the only part of `train/` the launcher imports, and the
container reads the same definitions. `paths` is SageMaker's /opt/ml tree; `handover` the environment
variables and run tags beyond it; `params` config values as MLflow params and back; `mlflow_rules` what MLflow
accepts as a name or a value; `journal` the files a job leaves for the record (metrics journal, pending work,
how the task ended); `secret_refs` Secrets Manager references; `files` private, atomic writes; `archive` safe
unpacking; `defaults` JSON Schema defaults; `timeline` and `startup` measure and speed up a process's start.
"""
