"""Train the digits MLP: seeded and deterministic on CPU, metrics per epoch, model logged at the end.

Distributed (torchrun), the same config means the same training: `batch_size` is the global batch, split
across the workers (each takes its `ctx.dist.shard` of every batch of one shared, seeded order), and each
worker's summed loss is scaled so that DistributedDataParallel's gradient average equals the gradient of the
whole batch's mean loss, as one process computes it. Losses are summed over workers before they are logged.
Dropout draws differ per worker (seeded by rank), so N workers match one process in distribution, not bits.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch import nn

from train.api import TaskContext
from train.digits import plots
from train.digits.data import Split, load_split
from train.digits.model import N_CLASSES, build_mlp, build_optimizer
from train.runtime.distributed import Distributed


def seed_everything(seed: int, threads: int) -> torch.Generator:
    """Same seed + same thread count on the same machine → bit-identical training.

    On the CPU every op this model uses is deterministic at a fixed thread count; deterministic algorithms are
    switched on for CUDA only (the switch imports torch's compiler: over a second at every start).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    if torch.cuda.is_available():
        torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, data: Split, batch_size: int,
                generator: torch.Generator, dist: Distributed) -> float:
    """One pass over `data` in global batches of `batch_size`; returns the mean loss over every worker."""
    model.train()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    order = torch.randperm(len(data.y), generator=generator)  # the same order on every worker
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        mine = dist.shard(batch)
        optimizer.zero_grad()
        loss = loss_fn(model(data.x[mine].to(dist.device)), data.y[mine].to(dist.device))
        (loss * dist.world_size / len(batch)).backward()  # DDP averages over workers: the batch's mean loss
        optimizer.step()
        total += float(loss.detach())
    (summed,) = dist.all_reduce_sum([total])
    return summed / len(data.y)


def evaluate(model: nn.Module, data: Split) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on `data`."""
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(data.x.to(device)).cpu()
        loss = float(nn.functional.cross_entropy(logits, data.y))
        accuracy = float((logits.argmax(dim=1) == data.y).float().mean())
    return loss, accuracy


def run(ctx: TaskContext) -> None:
    """The task entry point named by the training config's `task`.

    Checkpoints every `checkpoint_every` epochs (model, optimizer, history and every RNG), and resumes from
    the last one when the job restarts (a spot reclaim), so a resumed run ends bit-identical to one that was
    never interrupted.
    """
    config: dict[str, Any] = dict(ctx.config)
    generator = seed_everything(int(config["seed"]), int(config["num_threads"]))
    data_settings = config["data"]
    channel = ctx.paths.channel_dir(data_settings["channel"])
    train = load_split(channel / data_settings["train_file"])
    validation = load_split(channel / data_settings["validation_file"])
    dist = ctx.dist
    network = build_mlp(config["model"]["hidden_sizes"], float(config["model"]["dropout"]))
    torch.manual_seed(int(config["seed"]) + dist.rank)  # dropout: each worker its own draws
    model = dist.wrap(network)  # DistributedDataParallel across workers; the network itself on one process
    optimizer = build_optimizer(model, config["optimizer"])
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    ctx.checkpoints.every_steps = int(config.get("checkpoint_every", 1))
    first_epoch = 1
    restored = ctx.checkpoints.restore({"shuffle": generator})
    if restored is not None:
        epoch, state = restored
        network.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, first_epoch = state["history"], epoch + 1
        print(f"resumed from the checkpoint of epoch {epoch}")
    for epoch in range(first_epoch, int(config["epochs"]) + 1):
        train_loss = train_epoch(model, optimizer, train, int(config["batch_size"]), generator, dist)
        val_loss, val_accuracy = evaluate(network, validation)  # the whole split, on every worker alike
        metrics = {"train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_accuracy}
        ctx.tracker.log_metrics(metrics, step=epoch)
        for name, value in metrics.items():
            history[name].append(value)
        if dist.is_primary:
            print(f"epoch {epoch:3d}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}  "
                  f"val_acc {val_accuracy:.4f}")
        ctx.checkpoints.maybe_save(epoch, {"model": network.state_dict(), "optimizer": optimizer.state_dict(),
                                           "history": history}, {"shuffle": generator})
    dist.note_parameters(network)  # equal on every worker: the rank summaries show it
    if not dist.is_primary:
        return  # the figures and the model are rank 0's to record
    network.eval()
    with torch.no_grad():
        predictions = network(validation.x.to(dist.device)).argmax(dim=1).cpu()
    ctx.tracker.log_figure(plots.learning_curves(history), "plots/learning_curves.png")
    ctx.tracker.log_figure(plots.confusion_matrix(validation.y.tolist(), predictions.tolist(), N_CLASSES),
                           "plots/confusion_matrix.png")
    ctx.tracker.log_model(network.cpu(), validation.x[:5].numpy())
