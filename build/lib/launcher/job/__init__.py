"""Job room: what a training job receives — the CreateTrainingJob request (pure) and the staged config files.

Depends on config only: the request is a plain function of the spec and the run's IDs.
"""
