"""A memory bank of unit features with k-means pseudo-labels (InterCLR)."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, broadcast, get_rank
from mmengine.model import BaseModule

from mmmix.ops.positive_selection import PositiveTable, cluster_table
from mmmix.ops.pseudo_labels import (
    ASSIGN_METRICS,
    assign_labels,
    check_cluster_setup,
    cluster_means,
    cluster_stats,
    momentum_update,
    repair_clusters,
)
from mmmix.registry import MODELS


@MODELS.register_module()
class PseudoLabelMemory(BaseModule):
    """Features of every training image, their cluster labels and centroids.

    The bank of NPID and InterCLR (spec ``interclr.md`` U2/U4): ``feats``
    ``(n, d)`` unit rows, ``labels`` ``(n,)`` int64 in ``[0, k)`` and
    ``centroids`` ``(k, d)`` (plain means of unit rows, not normalised).
    Every method keeps all processes identical without broadcasting the
    bank: updates all-gather ``(idx, feats)`` and apply the same
    deterministic write everywhere; the steps whose result could differ
    between processes (centroid sums, 2-means splits) run on rank 0 and are
    broadcast. All collectives are mmengine's, no-ops in one process.

    The tensors are plain attributes, not buffers: they follow the model's
    device and dtype conversions (:meth:`_apply`) but stay out of
    ``state_dict`` (so backbone exports and ``init_cfg`` loading never see
    them) and out of ``named_buffers``, so DistributedDataParallel does not
    broadcast the bank from rank 0 at every forward (its
    ``broadcast_buffers``; 626 MiB per step at ImageNet scale);
    :class:`mmmix.MemoryBankHook` stores :meth:`state` in checkpoints.

    Args:
        length (int): ``n``, the training-set size.
        feat_dim (int): ``d``.
        num_clusters (int, optional): ``k``; None for a bank without labels
            (NPID).
        momentum (float): ``w`` of Eq. 2, the weight of the **new** feature,
            in (0, 1]: InterCLR-MoCo 1.0, NPID 0.5.
        assign_metric (str): ``'dot'`` (released code, default), ``'l2'``
            (the paper's equation) or ``'cosine'`` (spec ambiguity A1).
        min_cluster (int): clusters with fewer members are emptied and
            refilled by :func:`~mmmix.ops.repair_clusters`; 0 only refills
            empty clusters. Defaults to 20.
        seed (int): seed of the random initial bank and the splits.
    """

    def __init__(self, length: int, feat_dim: int,
                 num_clusters: Optional[int] = None, momentum: float = 1.,
                 assign_metric: str = 'dot', min_cluster: int = 20,
                 seed: int = 0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(length, int) or length < 1:
            raise ValueError(f'length must be an int >= 1, got {length!r}')
        if not isinstance(feat_dim, int) or feat_dim < 1:
            raise ValueError(f'feat_dim must be an int >= 1, got '
                             f'{feat_dim!r}')
        if not 0. < momentum <= 1.:
            raise ValueError(f'momentum must be in (0, 1], got {momentum}')
        if assign_metric not in ASSIGN_METRICS:
            raise ValueError(f'assign_metric must be one of '
                             f'{ASSIGN_METRICS}, got {assign_metric!r}')
        if num_clusters is not None:
            check_cluster_setup(length, num_clusters, min_cluster)
        self.length = length
        self.feat_dim = feat_dim
        self.num_clusters = num_clusters
        self.momentum = float(momentum)
        self.assign_metric = assign_metric
        self.min_cluster = int(min_cluster)
        self.seed = int(seed)
        g = torch.Generator().manual_seed(seed)
        feats = F.normalize(torch.randn(length, feat_dim, generator=g), dim=1)
        k = num_clusters or 1
        self.feats = feats
        self.labels = torch.zeros(length, dtype=torch.long)
        self.centroids = torch.zeros(k, feat_dim)
        self.labelled = False  # labels and centroids hold a clustering
        self._table = None
        self._repairs = 0
        self._pending = None  # (idx, feats) staged, not yet written

    #: the memory's tensors (attributes moved by :meth:`_apply`)
    tensor_names = ('feats', 'labels', 'centroids')

    def _apply(self, fn, *args, **kwargs):
        """Move / convert the memory's tensors with the module."""
        super()._apply(fn, *args, **kwargs)
        for name in self.tensor_names:
            setattr(self, name, fn(getattr(self, name)))
        self._table = None
        if self._pending is not None:
            self._pending = tuple(fn(t) for t in self._pending)
        return self

    # ---------------------------------------------------------------- state
    def _labels_changed(self) -> None:
        self._table = None

    def table(self) -> PositiveTable:
        """The cluster-sorted index of the current labels (cached)."""
        if self._table is None:
            self._table = cluster_table(self.labels)
        return self._table

    def state(self) -> dict:
        """CPU copies of the bank, for checkpoints (a staged update is not
        included: commit first)."""
        return dict(feats=self.feats.cpu().clone(),
                    labels=self.labels.cpu().clone(),
                    centroids=self.centroids.cpu().clone(),
                    labelled=self.labelled, num_clusters=self.num_clusters)

    def load_state(self, state: dict) -> None:
        """Restore :meth:`state` (shapes must match)."""
        for name in self.tensor_names:
            cur, new = getattr(self, name), state[name]
            if tuple(new.shape) != tuple(cur.shape):
                raise ValueError(
                    f'memory {name} of shape {tuple(new.shape)} in the '
                    f'checkpoint, this model has {tuple(cur.shape)}')
            cur.copy_(new.to(cur))
        self.labelled = bool(state.get('labelled', True))
        self._labels_changed()

    def _require_labels(self) -> None:
        if self.num_clusters is None:
            raise RuntimeError('this memory has no clusters (num_clusters '
                               'is None)')

    # --------------------------------------------------------------- writes
    @torch.no_grad()
    def init_memory(self, feats: torch.Tensor,
                    labels: Optional[torch.Tensor] = None) -> dict:
        """Fill the bank with ``feats`` (normalised) and, with clusters, the
        labels of a global clustering; centroids become cluster means and
        small / empty clusters are repaired (spec A8: no assert). Call with
        the same arguments on every process; the repair is rank 0's.

        Returns:
            dict: the repair statistics (empty without clusters).
        """
        if tuple(feats.shape) != (self.length, self.feat_dim):
            raise ValueError(
                f'init_memory needs ({self.length}, {self.feat_dim}) '
                f'features, got {tuple(feats.shape)}: the memory length '
                'must equal the training-set size')
        self._pending = None
        self.feats.copy_(F.normalize(feats.float(), dim=1).to(self.feats))
        if labels is None:
            return {}
        self._require_labels()
        labels = labels.to(self.labels.device).long()
        if labels.shape != self.labels.shape or int(labels.min()) < 0 or \
                int(labels.max()) >= self.num_clusters:
            raise ValueError(f'labels must be ({self.length},) in [0, '
                             f'{self.num_clusters}), got shape '
                             f'{tuple(labels.shape)}')
        self.labels.copy_(labels)
        self.centroids.copy_(
            cluster_means(self.feats, self.labels, self.num_clusters))
        self.labelled = True
        self._labels_changed()
        return self.repair()

    @torch.no_grad()
    def gather(self, idx: torch.Tensor, feats: torch.Tensor):
        """``(idx, feats)`` of all processes, concatenated in rank order."""
        idx = torch.cat(all_gather(idx.to(self.feats.device).long()))
        feats = torch.cat(all_gather(feats.detach().to(self.feats.device)
                                     .float().contiguous()))
        return idx, feats

    def _check_idx(self, idx: torch.Tensor) -> None:
        """Range check of host indices (the models check ``sample_idx`` on
        the host already; device indices are not synced for it)."""
        if idx.device.type != 'cpu' or idx.numel() == 0:
            return
        if int(idx.min()) < 0 or int(idx.max()) >= self.length:
            raise IndexError(
                f'sample_idx out of the memory range [0, {self.length}): '
                f'[{int(idx.min())}, {int(idx.max())}]')

    @torch.no_grad()
    def update(self, idx: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """Eq. 2 for the gathered batch now; returns the gathered indices."""
        self._check_idx(idx)
        self.commit()
        idx, feats = self.gather(idx, feats)
        momentum_update(self.feats, idx, feats, self.momentum)
        return idx

    @torch.no_grad()
    def stage(self, idx: torch.Tensor, feats: torch.Tensor) -> None:
        """Gather ``(idx, feats)`` now and write them at :meth:`commit`.

        A training step scores the query against the bank and needs the
        bank unchanged until its backward pass (the scores are gathered
        from one ``q @ feats.T`` product instead of copying ``K`` rows);
        the step stages its update and the memory hook commits it after
        the optimizer step (or the next step's first :meth:`commit`). A
        staged update not yet committed is committed first: none is lost.
        """
        self._check_idx(idx)
        self.commit()
        self._pending = self.gather(idx, feats)

    @property
    def has_pending(self) -> bool:
        return self._pending is not None

    @torch.no_grad()
    def commit(self, reassign: bool = False) -> Optional[torch.Tensor]:
        """Write the staged update (Eq. 2); with ``reassign`` (and labels)
        the rows then join their nearest centroid. Returns the change ratio
        of the reassignment (None when nothing was reassigned)."""
        if self._pending is None:
            return None
        idx, feats = self._pending
        self._pending = None
        momentum_update(self.feats, idx, feats, self.momentum)
        if reassign and self.labelled:
            return self.reassign(idx)
        return None

    @torch.no_grad()
    def reassign(self, idx: torch.Tensor) -> torch.Tensor:
        """Online E-step: rows ``idx`` (already gathered) join their nearest
        centroid. Returns the fraction whose label changed (a tensor)."""
        self._require_labels()
        new = assign_labels(self.feats[idx], self.centroids,
                            self.assign_metric)
        change = (new != self.labels[idx]).float().mean()
        self.labels[idx] = new
        self._labels_changed()
        return change

    @torch.no_grad()
    def assign_all(self, labels: torch.Tensor) -> dict:
        """Offline mode: overwrite every label (same on every process),
        recompute the centroids and repair; returns the repair statistics."""
        self._require_labels()
        self.commit()
        return self.init_memory(self.feats.clone(), labels)

    @torch.no_grad()
    def update_centroids(self) -> None:
        """M-step: every centroid becomes the mean of its members (empty
        clusters keep theirs); computed on rank 0 and broadcast."""
        self._require_labels()
        if get_rank() == 0:
            self.centroids.copy_(cluster_means(
                self.feats, self.labels, self.num_clusters, self.centroids))
        broadcast(self.centroids, src=0)

    @torch.no_grad()
    def repair(self) -> dict:
        """:func:`~mmmix.ops.repair_clusters` on rank 0, broadcast when it
        changed anything (the histogram, hence the decision, is the same on
        every process)."""
        self._require_labels()
        small = torch.bincount(self.labels, minlength=self.num_clusters) < \
            max(self.min_cluster, 1)
        if not bool(small.any()):
            return dict(num_small=0, num_moved=0, num_split=0)
        info = {}
        if get_rank() == 0:
            labels, centroids, info = repair_clusters(
                self.feats, self.labels, self.centroids, self.min_cluster,
                self.assign_metric, seed=self.seed + self._repairs)
            self.labels.copy_(labels)
            self.centroids.copy_(centroids)
        self._repairs += 1
        broadcast(self.labels, src=0)
        broadcast(self.centroids, src=0)
        self._labels_changed()
        return info

    def stats(self) -> dict:
        """Cluster-size statistics (:func:`~mmmix.ops.cluster_stats`)."""
        self._require_labels()
        return cluster_stats(self.labels, self.num_clusters)

    def extra_repr(self) -> str:
        return (f'length={self.length}, feat_dim={self.feat_dim}, '
                f'num_clusters={self.num_clusters}, '
                f'momentum={self.momentum}, '
                f'assign_metric={self.assign_metric!r}, '
                f'min_cluster={self.min_cluster}')
