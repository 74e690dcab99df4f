"""Sweeps room: a sweep file → validated trials → launches nested under one parent run (local or SageMaker)."""
