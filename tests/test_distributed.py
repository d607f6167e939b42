"""A compiled network trains under DistributedDataParallel: two CPU processes, gloo, gradients synchronised."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from tests.library import load

WORLD = 2
STEPS = 2


def _flat_grads(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _gather(tensor: torch.Tensor) -> list[torch.Tensor]:
    parts = [torch.empty_like(tensor) for _ in range(WORLD)]
    dist.all_gather(parts, tensor)
    return parts


def _train(rank: int, rendezvous: str) -> None:
    """One rank: two SGD steps on its own data; checks that DDP averaged the gradients across ranks."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(0)  # the same initial weights on both ranks (DDP also broadcasts rank 0's)
        spec = load("resnet18").with_overrides(num_classes=10, image_size=32)
        model = spec.build()
        ddp = DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        data = torch.Generator().manual_seed(100 + rank)  # each rank its own batch
        for _ in range(STEPS):
            x, y = torch.randn(4, 3, 32, 32, generator=data), torch.randint(0, 10, (4,), generator=data)
            with ddp.no_sync():  # this rank's own gradient, for comparison
                torch.nn.functional.cross_entropy(ddp(x), y).backward()
            local = _flat_grads(model)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(ddp(x), y).backward()
            synced = _flat_grads(model)
            locals_, synced_ = _gather(local), _gather(synced)
            assert not torch.allclose(locals_[0], locals_[1]), "the ranks should see different data"
            assert torch.equal(synced_[0], synced_[1]), "DDP left the ranks with different gradients"
            torch.testing.assert_close(synced, sum(locals_) / WORLD, rtol=1e-4, atol=1e-6)
            optimizer.step()
            optimizer.zero_grad()
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        assert all(torch.equal(weights, other) for other in _gather(weights)), "the ranks' weights diverged"
    finally:
        dist.destroy_process_group()


def test_ddp_synchronises_gradients_across_two_processes(tmp_path: Path) -> None:
    mp.spawn(_train, args=(f"file://{tmp_path / 'rendezvous'}",), nprocs=WORLD, join=True)
