"""The container side: SageMaker's /opt/ml contract, the run-time plumbing, and the example digits task."""
