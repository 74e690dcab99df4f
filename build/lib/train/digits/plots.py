"""Pictures of a digits run: learning curves and the validation confusion matrix (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def learning_curves(history: Mapping[str, Sequence[float]]) -> Figure:
    """Loss (train and validation) and validation accuracy per epoch, side by side."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.5), layout="constrained")
    loss, accuracy = figure.subplots(1, 2)
    epochs = range(1, len(history["train_loss"]) + 1)
    loss.plot(epochs, history["train_loss"], label="train")
    loss.plot(epochs, history["val_loss"], label="validation")
    loss.set(title="cross-entropy loss", xlabel="epoch")
    loss.legend()
    accuracy.plot(epochs, history["val_accuracy"], color="tab:green")
    accuracy.set(title="validation accuracy", xlabel="epoch", ylim=(0, 1))
    return figure


def confusion_matrix(labels: Sequence[int], predictions: Sequence[int], classes: int) -> Figure:
    """Counts of (true, predicted) class pairs, annotated."""
    import numpy as np
    from matplotlib.figure import Figure

    counts = np.zeros((classes, classes), dtype=int)
    for truth, guess in zip(labels, predictions, strict=True):
        counts[truth, guess] += 1
    figure = Figure(figsize=(5, 4.5), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes)
    axes.set(title="validation confusion matrix", xlabel="predicted", ylabel="true",
             xticks=range(classes), yticks=range(classes))
    for truth in range(classes):
        for guess in range(classes):
            color = "white" if counts[truth, guess] > counts.max() / 2 else "black"
            axes.text(guess, truth, str(counts[truth, guess]), ha="center", va="center", color=color, fontsize=7)
    return figure
