"""Positives and negatives drawn from a pseudo-labelled memory bank.

InterCLR §4.2 (spec ``interclr.md`` §3.3, U5): the positive of anchor ``i``
is a uniform draw from its cluster; ``K`` negatives come from the other
clusters, ``random``-ly, the ``hard`` K nearest, or ``K`` uniform draws
without replacement from a pool of the ``P`` nearest (``semihard``) or
farthest (``semieasy``) other-cluster rows. Every sampler is a fixed number
of batched tensor operations: no per-sample scan and no rejection loop, so
degenerate labels cannot make it spin.

Cluster membership is the flat, cluster-sorted index of
:func:`mmmix.ops.cluster_table` (the one used by CLIM's positives): the
samples outside a cluster are the two runs of ``members`` around its
segment, so a uniform draw over them is one random offset that skips the
segment.
"""
from typing import Optional

import torch

from .positive_selection import PositiveTable, draw_positives

NEGATIVE_STRATEGIES = ('random', 'hard', 'semihard', 'semieasy')


def draw_cluster_positives(table: PositiveTable, idx: torch.Tensor,
                           exclude_self: bool = False,
                           generator: Optional[torch.Generator] = None
                           ) -> torch.Tensor:
    """One positive per anchor, uniform over the anchor's cluster.

    Args:
        table (PositiveTable): :func:`~mmmix.ops.cluster_table` of the bank
            labels.
        idx (Tensor): ``(b,)`` anchor rows.
        exclude_self (bool): draw among the other members (a singleton
            cluster falls back to the anchor itself). Defaults to False: the
            anchor's own row may be drawn, as in InterCLR's released code
            (spec A15).
        generator (torch.Generator, optional): on the table's device.

    Returns:
        Tensor: ``(b,)`` int64 bank rows.
    """
    if not exclude_self:
        table = table._replace(self_pos=torch.full_like(table.self_pos, -1))
    pos, _ = draw_positives(table, idx, generator=generator)
    return pos


def draw_random_negatives(table: PositiveTable, idx: torch.Tensor,
                          num: int,
                          generator: Optional[torch.Generator] = None
                          ) -> torch.Tensor:
    """``num`` draws per anchor, uniform with replacement over the rows of
    the other clusters (the ``random`` strategy; InterCLR's code also draws
    with replacement).

    Raises:
        ValueError: when an anchor's cluster holds every sample.
    """
    dev = table.members.device
    idx = idx.to(dev).long()
    n = table.members.numel()
    start, count = table.start[idx], table.count[idx]
    avail = n - count
    if bool((avail < 1).any()):
        raise ValueError(
            'an anchor has no negative: its cluster holds all '
            f'{n} samples (all pseudo-labels are equal)')
    r = torch.rand((idx.numel(), num), dtype=torch.float64, device=dev,
                   generator=generator)
    off = torch.minimum((r * avail[:, None]).long(), avail[:, None] - 1)
    off = off + (off >= start[:, None]).long() * count[:, None]
    return table.members[off]


def sample_negatives(sim: torch.Tensor, labels: torch.Tensor,
                     anchor_labels: torch.Tensor, num: int,
                     strategy: str = 'semihard',
                     pool_size: Optional[int] = None,
                     table: Optional[PositiveTable] = None,
                     idx: Optional[torch.Tensor] = None,
                     generator: Optional[torch.Generator] = None
                     ) -> torch.Tensor:
    """``num`` negatives per anchor from the other clusters.

    Strategies (:data:`NEGATIVE_STRATEGIES`):

    * ``random``: :func:`draw_random_negatives` (needs ``table`` and
      ``idx``; ``sim`` is not read and may be None).
    * ``hard``: the ``num`` most similar other-cluster rows, best first.
    * ``semihard`` / ``semieasy``: the pool is the ``pool_size`` most /
      least similar other-cluster rows (the paper's "top 10 % of S^n"; the
      released code pools over the whole bank and rejects same-cluster
      draws, which has the same support whenever the pool holds no
      positives); ``num`` distinct pool rows are drawn uniformly (random
      keys, top-``num``).

    An anchor with fewer valid candidates than ``num`` (a pool, or all
    other clusters, too small) gets the missing ones from the ``random``
    strategy when ``table`` is given, else a ``ValueError``.

    Args:
        sim (Tensor): ``(b, n)`` similarities of the anchors to the bank
            (detached).
        labels (Tensor): ``(n,)`` bank labels.
        anchor_labels (Tensor): ``(b,)`` labels of the anchors.
        num (int): ``K`` >= 1.
        strategy (str): see above.
        pool_size (int, optional): ``P`` >= ``num`` for the pool strategies.
        table, idx: cluster table of ``labels`` and the anchors' rows, for
            ``random`` and the fallback.
        generator (torch.Generator, optional): on ``sim``'s device.

    Returns:
        Tensor: ``(b, num)`` int64 bank rows.
    """
    if strategy not in NEGATIVE_STRATEGIES:
        raise ValueError(f'strategy must be one of {NEGATIVE_STRATEGIES}, '
                         f'got {strategy!r}')
    if num < 1:
        raise ValueError(f'num_negatives must be >= 1, got {num}')
    if strategy == 'random':
        if table is None or idx is None:
            raise ValueError("strategy 'random' needs table and idx")
        return draw_random_negatives(table, idx, num, generator)
    n = sim.shape[1]
    same = labels[None, :].to(sim.device) == \
        anchor_labels[:, None].to(sim.device)
    if strategy == 'hard':
        if num > n:
            raise ValueError(f'num_negatives={num} exceeds the bank size {n}')
        vals, neg = sim.masked_fill(same, float('-inf')).topk(num, dim=1)
        bad = torch.isneginf(vals)
    else:
        if pool_size is None or not num <= pool_size <= n:
            raise ValueError(f'pool_size must be in [num_negatives={num}, '
                             f'bank size={n}], got {pool_size}')
        hardest = strategy == 'semihard'
        fill = float('-inf') if hardest else float('inf')
        vals, pool = sim.masked_fill(same, fill).topk(
            pool_size, dim=1, largest=hardest, sorted=False)
        valid = torch.isfinite(vals)
        keys = torch.rand(vals.shape, device=sim.device, generator=generator)
        keys = keys.masked_fill(~valid, -1.)
        pick = keys.topk(num, dim=1, sorted=False).indices
        neg = pool.gather(1, pick)
        bad = ~valid.gather(1, pick)
    if bool(bad.any()):
        if table is None or idx is None:
            raise ValueError(
                f'{int(bad.any(1).sum())} anchors have fewer than '
                f'num_negatives={num} negatives in their {strategy} pool; '
                'pass table and idx to fill them with random negatives')
        rand = draw_random_negatives(table, idx, num, generator)
        neg = torch.where(bad, rand.to(neg.device), neg)
    return neg


def gather_scores(query: torch.Tensor, bank: torch.Tensor,
                  index: torch.Tensor,
                  sim: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Inner products ``query_i . bank[index_ij]`` as a ``(b, m)`` tensor.

    With ``sim = query @ bank.T`` already formed (the pool strategies need
    it) the scores are a gather from it, and the gradient reaches ``query``
    through one ``(b, n) x (n, d)`` product; otherwise the ``(b, m, d)``
    rows are gathered (a copy: cheaper only when ``m << n``). The bank must
    not be written in place before the backward pass in the ``sim`` case
    (autograd refuses): :class:`mmmix.PseudoLabelMemory` stages its updates
    until after it. A 1-D ``index`` gives ``(b, 1)``.
    """
    if index.dim() == 1:
        index = index[:, None]
    if sim is not None:
        return sim.gather(1, index.to(sim.device))
    rows = bank[index.to(bank.device)].to(query.dtype)
    return torch.einsum('bd,bmd->bm', query, rows)
