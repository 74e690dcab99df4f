"""A worker's place in a distributed job, for the task: rank, world size, device, its shard, global values.

Under torchrun (see train.torchrun) every worker gets RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE; the
runtime builds a `Distributed` from them, joins the process group before the task starts and leaves it after.
Without torchrun the same object describes one process (rank 0 of 1) and every helper is the identity, so a
task written against it runs unchanged on one host, on N hosts, and in `train.testing`.

    order = torch.randperm(n, generator=shared_seeded_generator)  # the same order on every worker
    for batch in chunks(order, global_batch_size):
        mine = ctx.dist.shard(batch)                             # this worker's part, disjoint from the others'
        ...
    loss_sum, count = ctx.dist.all_reduce_sum([loss_sum, count])  # global values, identical everywhere

Only global rank 0 records to MLflow (the runtime disables the tracker elsewhere). torch is imported only by
the helpers that need it, so a task that never distributes pays nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from train.contract.handover import BACKEND_ENV, PEER_LOST

if TYPE_CHECKING:
    import torch



class Sliceable(Protocol):
    """A list, a tuple, a range, a tensor, an array: anything `items[start::step]` slices."""

    def __getitem__(self, index: slice) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Any: ...


S = TypeVar("S", bound=Sliceable)

SHARD_HEAD = 5000  # how many of the items a worker took its rank summary lists (the first ones)

# what a collective raises when another worker is gone (gloo, NCCL, the c10d store), by its text
PEER_LOSS_SIGNS = ("connection closed by peer", "connection reset by peer", "broken pipe", "connection refused",
                   "ncclremoteerror", "communicator was aborted", "socket timeout", "failed to recv",
                   "recv failed")


class Distributed:
    """This worker's rank among `world_size` (and among the `local_world_size` on its host)."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0, local_world_size: int = 1,
                 backend: str = "gloo", under_torchrun: bool = False) -> None:
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.local_world_size = local_world_size
        self.backend = backend
        self.under_torchrun = under_torchrun  # started by torchrun (even as its only worker)
        self.joined = False  # set by start(): the process group is joined
        self._shards = hashlib.sha256()
        self._examples = 0
        self._head: list[Any] = []  # the first items this worker took, for the record
        self.notes: dict[str, Any] = {}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Distributed:
        """torchrun's variables for a worker; one process (rank 0 of 1) without them."""
        if "RANK" not in environ or "WORLD_SIZE" not in environ:
            return cls()
        return cls(rank=int(environ["RANK"]), world_size=int(environ["WORLD_SIZE"]),
                   local_rank=int(environ.get("LOCAL_RANK", "0")),
                   local_world_size=int(environ.get("LOCAL_WORLD_SIZE", "1")),
                   backend=environ.get(BACKEND_ENV, "gloo"), under_torchrun=True)

    @property
    def is_primary(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """This worker's device: its own GPU (cuda:LOCAL_RANK) with nccl, the CPU otherwise."""
        import torch

        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    # -- the process group ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Join the process group (every worker of every host meets here)."""
        import torch.distributed as dist

        if self.backend == "nccl":
            import torch

            torch.cuda.set_device(self.local_rank)
        dist.init_process_group(self.backend, rank=self.rank, world_size=self.world_size)
        self.joined = True

    def stop(self) -> None:
        if self.joined:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    # -- helpers for the task ---------------------------------------------------------------------------------
    def shard(self, items: S) -> S:
        """This worker's part of `items` (every world_size-th, from its rank: DistributedSampler's split, without
        padding), disjoint from every other worker's. The same `items` must be given on every worker."""
        mine = cast(S, items[self.rank :: self.world_size])
        taken = [int(item) if hasattr(item, "__int__") else item for item in mine]
        self._examples += len(taken)
        self._shards.update(repr(taken).encode())
        self._head.extend(taken[: max(SHARD_HEAD - len(self._head), 0)])
        return mine

    def all_reduce_sum(self, values: Sequence[float]) -> list[float]:
        """The sums of `values` over all workers (each worker passes its own), the same on every worker."""
        if not self.joined or self.world_size == 1:
            return [float(value) for value in values]
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([float(value) for value in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return [float(value) for value in tensor.tolist()]

    def all_reduce_mean(self, values: Sequence[float]) -> list[float]:
        return [value / self.world_size for value in self.all_reduce_sum(values)]

    def wrap(self, model: Any) -> Any:
        """`model` on this worker's device, wrapped in DistributedDataParallel when there are other workers
        (gradients averaged across them at each backward; every worker starts from rank 0's parameters)."""
        model = model.to(self.device)
        if not self.joined or self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.local_rank] if self.backend == "nccl" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def note_parameters(self, model: Any) -> str:
        """Record (and return) a digest of `model`'s parameters: equal on every worker after synchronous data
        parallel training, which the rank summary shows."""
        digest = parameters_digest(model)
        self.notes["parameters_sha256"] = digest
        return digest

    def summary(self, host: str) -> dict[str, Any]:
        """What this worker trained on and ended with (written to the host's output by the runtime)."""
        return {"host": host, "rank": self.rank, "world_size": self.world_size, "local_rank": self.local_rank,
                "backend": self.backend, "examples": self._examples, "shard_sha256": self._shards.hexdigest(),
                "first_examples": self._head, **self.notes}

    def write_summary(self, directory: Path, host: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"rank-{self.rank}.json"
        path.write_text(json.dumps(self.summary(host), indent=2), encoding="utf-8")
        return path


def parameters_digest(model: Any) -> str:
    """sha256 over a model's state dict (names and exact bytes, in order)."""
    digest = hashlib.sha256()
    state = model.module.state_dict() if hasattr(model, "module") else model.state_dict()
    for name, tensor in state.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def is_peer_loss(error: BaseException) -> bool:
    """Whether `error` says another worker of the job is gone (a consequence of its failure, not a cause)."""
    text = f"{type(error).__name__}: {error}".lower()
    return type(error).__name__ in ("DistNetworkError",) or any(sign in text for sign in PEER_LOSS_SIGNS)


def failure_reason(dist: Distributed, reason: str, error: BaseException) -> str:
    """A worker's failure reason, naming its rank in a job of several, and saying so when it only lost a peer."""
    if dist.world_size == 1:
        return reason
    if is_peer_loss(error):
        return f"rank {dist.rank}: {PEER_LOST} ({reason})"
    return f"rank {dist.rank}: {reason}"
