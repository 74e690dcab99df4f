"""A multi-layer perceptron for 8×8 digits."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

N_FEATURES = 64
N_CLASSES = 10


def build_mlp(hidden_sizes: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear → ReLU → Dropout per hidden layer, then a linear layer to the 10 class logits."""
    layers: list[nn.Module] = []
    width = N_FEATURES
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, N_CLASSES))
    return nn.Sequential(*layers)


def build_optimizer(model: nn.Module, settings: dict[str, float | str]) -> torch.optim.Optimizer:
    name, lr = str(settings["name"]), float(settings["lr"])
    decay = float(settings.get("weight_decay", 0.0))
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, weight_decay=decay,
                               momentum=float(settings.get("momentum", 0.9)))
    raise ValueError(f"unknown optimizer {name!r} (expected adam, adamw or sgd)")
