"""Small measurement helpers shared by the benchmark and table tools."""
from typing import Callable, Iterable, Optional, Tuple

import numpy as np
import torch


def saved_tensor_bytes(fn: Callable) -> Tuple[object, int]:
    """Run ``fn()`` and count the bytes autograd saves for backward.

    Storages are counted once (views share them). On a CPU, where torch
    keeps no allocator statistics, this is what a training step holds at
    its peak besides parameters and optimizer state.
    """
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(saved.values())


def mean_std(values: Iterable[Optional[float]]) -> Optional[dict]:
    """``dict(mean, std, n)`` of the non-``None`` values (sample std, 0 for
    one value), or ``None`` if there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(mean=float(np.mean(values)),
                std=float(np.std(values, ddof=1)) if len(values) > 1 else 0.,
                n=len(values))
