"""Config room: YAML files + `--set` overrides → one validated, frozen LaunchSpec (or every problem at once).

Nothing here imports MLflow, boto3 or torch: `smlaunch validate` stays fast, and the rooms after this one
(tracking, job, executors) depend on config, never the other way round.
"""
