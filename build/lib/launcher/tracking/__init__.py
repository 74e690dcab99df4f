"""Tracking room: the launcher's side of MLflow — create the run, record provenance, settle its final state.

`client.py` is the only module on the laptop side that imports mlflow (lazily, inside functions).
"""
