"""Recompute CLIM's positive table every few epochs."""
import json
import os.path as osp
import time
from typing import Optional

import torch
from mmengine.dist import (
    broadcast,
    broadcast_object_list,
    get_rank,
    is_main_process,
)
from mmengine.hooks import Hook

from mmmix.engine.feature_extraction import extract_features
from mmmix.ops.positive_selection import (
    PositiveTable,
    select_positives,
    selection_stats,
)
from mmmix.registry import HOOKS

_MODES = ('center_wise', 'knn', 'kmeans', 'random')


def _find_pair_dataset(dataset):
    """The :class:`CLIMPairDataset` in a (possibly wrapped) dataset."""
    from mmmix.datasets.clim_pair import CLIMPairDataset
    seen = 0
    while dataset is not None and seen < 8:
        if isinstance(dataset, CLIMPairDataset):
            return dataset
        dataset = getattr(dataset, 'dataset', None)
        seen += 1
    return None


@HOOKS.register_module()
class CLIMHook(Hook):
    """Select CLIM positives from the whole training set every few epochs.

    Before epochs ``start_epoch, start_epoch + interval, ...`` it embeds every
    training image with ``dataloader`` (a deterministic, e.g. centre-crop,
    pipeline over the same images in the same order), gathers the features of
    all processes in dataset order (sampler padding dropped), selects
    positives on the main process (:func:`~mmmix.ops.select_positives`:
    faiss k-means + exact kNN + the centre-wise rule of Eq. 2), broadcasts
    the table and writes it in place into the training set's
    :class:`~mmmix.datasets.CLIMPairDataset`, where the dataloader workers
    see it. Statistics (mean valid positives, fill rate, cluster sizes, the
    label precision of positives when the images have labels, the selection
    time) are logged, written to the visualizer, kept in the message hub and
    in ``<work_dir>/clim_selection.json``. The table is stored in
    checkpoints and restored on resume (a checkpoint without one gets a new
    table at the resumed epoch).

    Args:
        dataloader (dict): dataloader config over the training images with
            an evaluation pipeline (one view); ``shuffle=False``.
        interval (int): epochs between selections, >= 1. Defaults to 5.
        start_epoch (int): first epoch with a table, >= 0; before it the
            positive is the anchor itself. Defaults to 0.
        mode (str): ``'center_wise'`` (the paper), ``'knn'``, ``'kmeans'``
            or ``'random'`` (Table 6's ablations).
        num_clusters (int, optional): k-means clusters; None uses
            ``round(n / 128)`` (ImageNet's 1.28M / 10,000).
        num_neighbors (int): kNN size k. Defaults to 40.
        pool_size (int): positives kept per anchor. Defaults to 10.
        fill (str): ``'topup'`` or ``'replace'`` (spec ambiguity A5).
        feat_source (str): ``'key'`` (momentum encoder, default) or
            ``'query'``.
        kmeans_cfg (dict, optional): extra :func:`~mmmix.ops.kmeans` options
            (``niter``, ``nredo``, ...).
        seed (int): base seed; round ``t`` uses ``seed + epoch``.
        progress (bool): progress bar over feature extraction.
    """
    priority = 'NORMAL'

    def __init__(self,
                 dataloader: dict,
                 interval: int = 5,
                 start_epoch: int = 0,
                 mode: str = 'center_wise',
                 num_clusters: Optional[int] = None,
                 num_neighbors: int = 40,
                 pool_size: int = 10,
                 fill: str = 'topup',
                 feat_source: str = 'key',
                 kmeans_cfg: Optional[dict] = None,
                 seed: int = 0,
                 progress: bool = True):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an int >= 1, got {interval!r}')
        if not isinstance(start_epoch, int) or start_epoch < 0:
            raise ValueError('start_epoch must be an int >= 0, got '
                             f'{start_epoch!r}')
        if mode not in _MODES:
            raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
        if feat_source not in ('key', 'query'):
            raise ValueError("feat_source must be 'key' or 'query', got "
                             f'{feat_source!r}')
        if num_clusters is not None and (not isinstance(num_clusters, int)
                                         or num_clusters < 1):
            raise ValueError('num_clusters must be None or an int >= 1, got '
                             f'{num_clusters!r}')
        if not isinstance(num_neighbors, int) or num_neighbors < 1:
            raise ValueError('num_neighbors must be an int >= 1, got '
                             f'{num_neighbors!r}')
        if not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f'pool_size must be an int >= 1, got '
                             f'{pool_size!r}')
        if mode == 'center_wise' and pool_size > num_neighbors:
            raise ValueError(f'pool_size ({pool_size}) must be <= '
                             f'num_neighbors ({num_neighbors})')
        self.dataloader_cfg = dataloader
        self.interval = interval
        self.start_epoch = start_epoch
        self.mode = mode
        self.num_clusters = num_clusters
        self.num_neighbors = num_neighbors
        self.pool_size = pool_size
        self.fill = fill
        self.feat_source = feat_source
        self.kmeans_cfg = kmeans_cfg or {}
        self.seed = seed
        self.progress = progress
        self._loader = None
        self.table_epoch = None  # epoch of the table in the dataset

    # ------------------------------------------------------------ helpers
    def _pair_dataset(self, runner):
        dataset = _find_pair_dataset(runner.train_dataloader.dataset)
        if dataset is None:
            raise TypeError(
                'CLIMHook needs the training dataset wrapped in '
                "dict(type='mmmix.CLIMPairDataset', dataset=...), got "
                f'{type(runner.train_dataloader.dataset).__name__}')
        return dataset

    def _features(self, model, inputs):
        if hasattr(model, 'selection_features'):
            return model.selection_features(inputs, self.feat_source)
        feats = model.extract_feat(inputs)
        feats = feats[-1] if isinstance(feats, (list, tuple)) else feats
        if feats.dim() == 4:
            feats = feats.mean(dim=(2, 3))
        return torch.nn.functional.normalize(feats.flatten(1).float(), dim=1)

    def _due(self, epoch: int) -> bool:
        if epoch < self.start_epoch:
            return False
        return self.table_epoch is None or \
            (epoch - self.start_epoch) % self.interval == 0

    # -------------------------------------------------------------- main
    def select(self, runner) -> dict:
        """One selection round; returns its statistics."""
        dataset = self._pair_dataset(runner)
        if self._loader is None:
            self._loader = runner.build_dataloader(self.dataloader_cfg)
        n = len(dataset)
        if len(self._loader.dataset) != n:
            raise ValueError(
                f'CLIMHook.dataloader has {len(self._loader.dataset)} '
                f'images but the training set has {n}: it must list the '
                'same images in the same order')
        t0 = time.perf_counter()
        feats, labels = extract_features(
            runner.model, self._loader, feature_fn=self._features,
            progress=self.progress)
        t_feat = time.perf_counter() - t0
        if feats.shape[0] != n:
            raise RuntimeError(f'CLIMHook extracted {feats.shape[0]} '
                               f'features for {n} images')
        epoch = runner.epoch
        payload = [None]
        table = None
        if is_main_process():
            t1 = time.perf_counter()
            table, info = select_positives(
                feats, mode=self.mode, num_clusters=self.num_clusters,
                num_neighbors=self.num_neighbors, pool_size=self.pool_size,
                fill=self.fill, seed=self.seed + epoch,
                kmeans_cfg=self.kmeans_cfg)
            t_sel = time.perf_counter() - t1
            stats = selection_stats(
                table, info, labels if (labels >= 0).any() else None)
            stats.update(feature_s=t_feat, selection_s=t_sel)
            payload[0] = dict(stats=stats,
                              sizes=[int(t.numel()) for t in table])
        broadcast_object_list(payload)
        if get_rank() != 0:
            table = PositiveTable(*(torch.zeros(s, dtype=torch.long)
                                    for s in payload[0]['sizes']))
        table = PositiveTable(*(t.cpu().long() for t in table))
        for t in table:
            broadcast(t, src=0)
        dataset.set_table(table)
        self.table_epoch = epoch
        stats = payload[0]['stats']
        self._record(runner, epoch, stats)
        return stats

    def _record(self, runner, epoch: int, stats: dict) -> None:
        record = dict(epoch=epoch, iter=runner.iter, mode=self.mode, **stats)
        history = runner.message_hub.get_info('clim_history', [])
        runner.message_hub.update_info('clim_history', history + [record])
        runner.visualizer.add_scalars(
            {f'clim/{k}': v for k, v in stats.items()}, step=runner.iter)
        text = ', '.join(f'{k}: {v:.4g}' for k, v in stats.items())
        runner.logger.info(f'clim selection [{self.mode}] before epoch '
                           f'{epoch + 1}: {text}')
        if is_main_process():
            path = osp.join(runner.work_dir, 'clim_selection.json')
            with open(path, 'w') as f:
                json.dump(history + [record], f, indent=1)

    # ---------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        # fail before the first epoch on a wrong config or too small data
        n = len(self._pair_dataset(runner))
        if self.num_clusters is not None and self.num_clusters > n and \
                self.mode in ('center_wise', 'kmeans'):
            raise ValueError(f'num_clusters={self.num_clusters} exceeds the '
                             f'{n} training images')
        k = self.pool_size if self.mode == 'knn' else self.num_neighbors
        if self.mode in ('center_wise', 'knn') and k + 1 > n:
            raise ValueError(
                f"{'pool_size' if self.mode == 'knn' else 'num_neighbors'}"
                f'={k} needs at least {k + 1} training images, got {n}')

    def before_train_epoch(self, runner) -> None:
        if self._due(runner.epoch):
            self.select(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        dataset = self._pair_dataset(runner)
        if self.table_epoch is None or dataset.version == 0:
            return
        table = dataset.table
        checkpoint['clim_table'] = dict(
            epoch=self.table_epoch, mode=self.mode,
            **{k: v.clone() for k, v in table._asdict().items()})

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('clim_table')
        if state is None:
            return
        if state.get('mode') != self.mode:
            runner.logger.warning(
                f"checkpoint's CLIM table was selected with mode "
                f"{state.get('mode')!r}, not {self.mode!r}: reselecting")
            return
        dataset = _find_pair_dataset(runner.train_dataloader.dataset)
        if dataset is None:
            return
        dataset.set_table(PositiveTable(
            *(state[k] for k in PositiveTable._fields)))
        self.table_epoch = state['epoch']
        runner.logger.info('restored the CLIM table selected before epoch '
                           f"{state['epoch'] + 1}")
