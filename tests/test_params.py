"""Flattening configs into MLflow params."""

from __future__ import annotations

from train.contract.params import flatten


def test_flatten_uses_dotted_keys_and_json_values() -> None:
    config = {"train": {"optimizer": {"lr": 0.003, "name": "adam"}, "sizes": (128, 64), "flag": True}, "n": None}
    assert flatten(config) == {
        "train.optimizer.lr": "0.003",
        "train.optimizer.name": "adam",
        "train.sizes": "[128, 64]",
        "train.flag": "true",
        "n": "null",
    }
