"""Cloud room: the one boto3 door (`aws.py`) and what is done with SageMaker jobs after launch (status, stop,
reconciling a run with its job)."""
