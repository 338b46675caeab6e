"""`deepgrad.distributed`: data-parallel training on MPI (mpi4py + MPICH or Open MPI).

    mpiexec -n 4 python train.py          # or: mpiexec -n 4 deepgrad train RECIPE --distributed

    import deepgrad.distributed as dist
    dist.init()
    loader = dist.DistributedDataLoader(data, batch_size=32, shuffle=True, seed=0)
    dg.train.fit(model, loss, opt, loader, distributed=True)

Needs the optional `mpi` extra (`pip install 'deepgrad[mpi]'`) only when `init()`
is called; before that the world is one process and every collective is the
identity.
"""

from ..train.fit import register_distributed
from .comm import (
    abort,
    all_reduce_array,
    allgather_object,
    barrier,
    broadcast_array,
    broadcast_object,
    broadcast_parameters,
    init,
    is_initialized,
    is_main,
    map_trials,
    rank,
    world_size,
)
from .gradients import DEFAULT_BUCKET_BYTES, GradientReducer, all_reduce_gradients
from .sampler import DistributedDataLoader, DistributedSampler
from .strategy import MPIStrategy
from .sync_bn import SyncBatchNorm, all_reduce

register_distributed(MPIStrategy)

__all__ = [
    "DEFAULT_BUCKET_BYTES",
    "DistributedDataLoader",
    "DistributedSampler",
    "GradientReducer",
    "MPIStrategy",
    "SyncBatchNorm",
    "abort",
    "all_reduce",
    "all_reduce_array",
    "all_reduce_gradients",
    "allgather_object",
    "barrier",
    "broadcast_array",
    "broadcast_object",
    "broadcast_parameters",
    "init",
    "is_initialized",
    "is_main",
    "map_trials",
    "rank",
    "world_size",
]
