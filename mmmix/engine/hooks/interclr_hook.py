"""Memory banks in checkpoints, and InterCLR's pseudo-label maintenance."""
import json
import os.path as osp
import time
from typing import Optional, Tuple

import torch
from mmengine.dist import broadcast, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmix.engine.feature_extraction import extract_features
from mmmix.ops.clustering import kmeans
from mmmix.registry import HOOKS


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _gt_labels(dataset) -> Optional[torch.Tensor]:
    """Class labels of the training images, when the dataset has them."""
    get = getattr(dataset, 'get_gt_labels', None)
    if get is None:
        return None
    try:
        labels = torch.as_tensor(get()).long().flatten()
    except Exception:  # noqa: BLE001 - datasets without labels raise
        return None
    if labels.numel() != len(dataset) or bool((labels < 0).all()):
        return None
    return labels


def normalized_mutual_info(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """NMI of a clustering against the true classes (scikit-learn's)."""
    from sklearn.metrics import normalized_mutual_info_score
    return float(normalized_mutual_info_score(truth.cpu().numpy(),
                                              pred.cpu().numpy()))


@HOOKS.register_module()
class MemoryBankHook(Hook):
    """Keep a model's memory bank (``model.memory``, a
    :class:`mmmix.PseudoLabelMemory`) in its checkpoints.

    The bank is not in the model's ``state_dict`` (nor in backbone
    exports); this hook writes :meth:`state` under the
    checkpoint key ``'memory_bank'`` and restores it on resume, so a resumed
    run continues with the same features, labels and centroids. After every
    optimizer step it commits the step's staged bank update
    (``model.commit_memory()``). It also checks before training that the
    memory has one row per training image.
    NPID needs only this hook; :class:`InterCLRHook` extends it.
    """
    priority = 'NORMAL'
    checkpoint_key = 'memory_bank'

    def __init__(self) -> None:
        self.restored = False

    def _memory(self, runner):
        model = _unwrap(runner.model)
        memory = getattr(model, 'memory', None)
        if memory is None:
            raise TypeError(f'{type(self).__name__} needs a model with a '
                            f'memory bank, got {type(model).__name__}')
        return memory

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    def before_train(self, runner) -> None:
        memory = self._memory(runner)
        n = len(runner.train_dataloader.dataset)
        if memory.length != n:
            raise ValueError(
                f'memory.length={memory.length} but the training set has {n} '
                'images: the memory needs one row per image (set '
                'model.memory.length to the dataset size)')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Write the step's staged bank update (after the optimizer step)."""
        _unwrap(runner.model).commit_memory()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        _unwrap(runner.model).commit_memory()
        state = self._memory(runner).state()
        state.update(self._extra_state())
        checkpoint[self.checkpoint_key] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(self.checkpoint_key)
        if state is None:
            runner.logger.warning('the checkpoint has no memory bank: it is '
                                  'rebuilt before training')
            return
        self._memory(runner).load_state(state)
        self._load_extra_state(state)
        self.restored = True
        runner.logger.info('restored the memory bank from the checkpoint')


@HOOKS.register_module()
class InterCLRHook(MemoryBankHook):
    """InterCLR's pseudo-labels (spec ``interclr.md`` §3.2, U8).

    * ``before_train`` (after mmengine has loaded weights and resumed, spec
      A12): unless the memory came back from the checkpoint, embed every
      training image with ``dataloader`` (a deterministic pipeline over the
      same images in the same order), gathered across processes in dataset
      order, run global k-means (faiss) on rank 0, broadcast the labels and
      fill the memory (features, labels, centroid means, small / empty
      clusters repaired).
    * after every optimizer step it commits the step's bank update and,
      with online labels (``model.label_update == 'online'``), the batch
      rows join their nearest centroid (``change_ratio``, logged); it
      recomputes the centroids every ``centroid_interval`` iterations,
      repairs small and empty clusters every ``repair_interval`` and logs
      the histogram (``empty_num``, ``min_cluster``, ``max_cluster``) every
      ``stats_interval``.
    * offline labels: global re-clustering after every ``offline_interval``
      epochs instead.
    * ``warmup_epochs``: the inter branch is off (weights 1 / 0) before it.

    After every epoch it logs the mean ``change_ratio`` of the epoch, the
    cluster statistics, the splits made and, when the training set has
    class labels, the NMI of the pseudo-labels against them; the records are
    in the message hub (``interclr_history``), the visualizer and
    ``<work_dir>/interclr_clusters.json``, and travel in checkpoints.

    Args:
        dataloader (dict): extraction dataloader over the training images
            (evaluation pipeline, ``shuffle=False``).
        feat_source (str): ``'online'`` (released code) or ``'target'``
            encoder for the clustering features (spec A16).
        offline_interval (int): epochs between offline re-clusterings.
            Defaults to 1 (spec A3).
        centroid_interval (int): iterations between centroid updates.
            Defaults to 10.
        repair_interval (int): iterations between small-cluster repairs.
            Defaults to 1.
        stats_interval (int): iterations between histogram logs. Defaults
            to 50.
        warmup_epochs (int): epochs with intra loss only. Defaults to 0.
        kmeans_cfg (dict, optional): :func:`~mmmix.ops.kmeans` options
            (``niter`` defaults to 20).
        seed (int): k-means seed; re-clustering at epoch ``e`` uses
            ``seed + e``.
        progress (bool): progress bar over the extraction.
    """

    def __init__(self, dataloader: dict, feat_source: str = 'online',
                 offline_interval: int = 1, centroid_interval: int = 10,
                 repair_interval: int = 1, stats_interval: int = 50,
                 warmup_epochs: int = 0, kmeans_cfg: Optional[dict] = None,
                 seed: int = 0, progress: bool = True) -> None:
        super().__init__()
        if feat_source not in ('online', 'target'):
            raise ValueError("feat_source must be 'online' or 'target', got "
                             f'{feat_source!r}')
        for name, value, low in (('offline_interval', offline_interval, 1),
                                 ('centroid_interval', centroid_interval, 1),
                                 ('repair_interval', repair_interval, 1),
                                 ('stats_interval', stats_interval, 1),
                                 ('warmup_epochs', warmup_epochs, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f'{name} must be an int >= {low}, got '
                                 f'{value!r}')
        self.dataloader_cfg = dataloader
        self.feat_source = feat_source
        self.offline_interval = offline_interval
        self.centroid_interval = centroid_interval
        self.repair_interval = repair_interval
        self.stats_interval = stats_interval
        self.warmup_epochs = warmup_epochs
        self.kmeans_cfg = dict(niter=20, **(kmeans_cfg or {}))
        self.seed = seed
        self.progress = progress
        self._loader = None
        self._weights = None
        self._history = []
        self._reset_epoch()

    def _reset_epoch(self) -> None:
        self._change_sum = 0.
        self._change_n = 0
        self._splits = 0

    def _extra_state(self) -> dict:
        return dict(history=list(self._history))

    def _load_extra_state(self, state: dict) -> None:
        self._history = list(state.get('history', []))

    # ------------------------------------------------------------ cluster
    def cluster(self, runner) -> Tuple[torch.Tensor, torch.Tensor]:
        """Embed the training images and cluster them (k-means on rank 0).

        Returns:
            tuple: ``(feats (n, d) on CPU, labels (n,) on the memory's
            device)``, the same on every process.
        """
        model = _unwrap(runner.model)
        memory = model.memory
        if self._loader is None:
            self._loader = runner.build_dataloader(self.dataloader_cfg)
        if len(self._loader.dataset) != memory.length:
            raise ValueError(
                f'InterCLRHook.dataloader has {len(self._loader.dataset)} '
                f'images but the memory has {memory.length} rows: it must '
                'list the training images in the same order')
        t0 = time.perf_counter()
        feats, _ = extract_features(
            runner.model, self._loader,
            feature_fn=lambda m, x: m.interclr_features(x, self.feat_source),
            progress=self.progress)
        t1 = time.perf_counter()
        labels = torch.zeros(memory.length, dtype=torch.long)
        if is_main_process():
            _, labels, _ = kmeans(feats, memory.num_clusters,
                                  seed=self.seed + runner.epoch,
                                  **self.kmeans_cfg)
            labels = labels.cpu().long()
        dev = memory.labels.device
        labels = labels.to(dev)
        broadcast(labels, src=0)
        runner.logger.info(
            f'InterCLR clustering of {memory.length} images into '
            f'{memory.num_clusters} clusters: extraction '
            f'{t1 - t0:.1f} s, k-means {time.perf_counter() - t1:.1f} s')
        return feats, labels

    def _record(self, runner, tag: str, epoch: int, **extra) -> dict:
        memory = self._memory(runner)
        stats = memory.stats()
        record = dict(tag=tag, epoch=epoch, iter=runner.iter, **extra,
                      **stats)
        truth = _gt_labels(runner.train_dataloader.dataset)
        if truth is not None:
            record['nmi'] = normalized_mutual_info(memory.labels, truth)
        self._history.append(record)
        runner.message_hub.update_info('interclr_history',
                                       list(self._history))
        runner.visualizer.add_scalars(
            {f'interclr/{k}': v for k, v in record.items()
             if isinstance(v, (int, float)) and k not in ('epoch', 'iter')},
            step=runner.iter)
        text = ', '.join(f'{k}: {v:.4g}' if isinstance(v, float) else
                         f'{k}: {v}' for k, v in record.items()
                         if k not in ('tag', 'epoch', 'iter'))
        runner.logger.info(f'InterCLR clusters ({tag}, after epoch '
                           f'{epoch}, iter {runner.iter}): {text}')
        if is_main_process():
            with open(osp.join(runner.work_dir, 'interclr_clusters.json'),
                      'w') as f:
                json.dump(self._history, f, indent=1)
        return record

    # -------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        super().before_train(runner)
        model = _unwrap(runner.model)
        if not getattr(model, 'memory_needs_clusters', False):
            raise TypeError(f'InterCLRHook needs an InterCLR model, got '
                            f'{type(model).__name__}')
        self._weights = (model.intra_weight, model.inter_weight)
        if self.restored and model.memory.labelled:
            self._record(runner, 'resumed', runner.epoch)
            return
        feats, labels = self.cluster(runner)
        info = model.memory.init_memory(feats, labels)
        self._record(runner, 'init', runner.epoch,
                     num_split=info.get('num_split', 0))

    def before_train_epoch(self, runner) -> None:
        model = _unwrap(runner.model)
        if runner.epoch < self.warmup_epochs:
            model.intra_weight, model.inter_weight = 1., 0.
        elif self._weights is not None:
            model.intra_weight, model.inter_weight = self._weights
        self._reset_epoch()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        model = _unwrap(runner.model)
        change = model.commit_memory()  # the E-step with online labels
        if change is not None:
            change = float(change)
            runner.message_hub.update_scalar('train/change_ratio', change)
            self._change_sum += change
            self._change_n += 1
        if model.label_update != 'online':
            return
        memory = model.memory
        if self.every_n_train_iters(runner, self.centroid_interval):
            memory.update_centroids()
        if self.every_n_train_iters(runner, self.repair_interval):
            self._splits += memory.repair().get('num_split', 0)
        if self.every_n_train_iters(runner, self.stats_interval):
            for key, value in memory.stats().items():
                runner.message_hub.update_scalar(f'train/interclr_{key}',
                                                 value)

    def after_train_epoch(self, runner) -> None:
        model = _unwrap(runner.model)
        extra = dict(num_split=self._splits)
        if self._change_n:
            extra['change_ratio'] = self._change_sum / self._change_n
        if model.label_update == 'offline' and \
                self.every_n_epochs(runner, self.offline_interval) and \
                not self.is_last_train_epoch(runner):
            _, labels = self.cluster(runner)
            old = model.memory.labels.clone()
            info = model.memory.assign_all(labels)
            extra.update(num_split=info.get('num_split', 0),
                         relabel_ratio=float(
                             (model.memory.labels != old).float().mean()))
        self._record(runner, 'epoch', runner.epoch + 1, **extra)
