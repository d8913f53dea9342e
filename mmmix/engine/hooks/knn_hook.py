"""Weighted k-NN evaluation of a model's frozen features during training."""
import json
import os.path as osp
from typing import Dict, Optional, Sequence, Union

from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook

from mmmix.engine.feature_extraction import extract_features
from mmmix.evaluation.metrics import KNNAccuracy
from mmmix.registry import HOOKS


@HOOKS.register_module()
class KNNEvalHook(Hook):
    """Evaluate frozen features with a weighted k-NN classifier.

    Features of ``bank_dataloader`` (labelled training images) and
    ``query_dataloader`` (test images) are extracted with the model's
    ``extract_feat`` (stage ``out_index``, global-average-pooled,
    L2-normalised), gathered across processes, and every query is classified
    by its nearest bank features (:class:`~mmmix.evaluation.KNNAccuracy`).
    Results are logged, written to the visualizer backends, kept in the
    message hub (so they survive resume) and summarised in
    ``<work_dir>/knn_summary.json`` at the end of training.

    Args:
        bank_dataloader (dict): dataloader config of the labelled bank.
        query_dataloader (dict): dataloader config of the queries.
        interval (int): evaluate every ``interval`` epochs (or iterations
            when ``by_epoch=False``), and after the last one. >= 1.
        by_epoch (bool): count ``interval`` in epochs. Defaults to True.
        eval_before_train (bool): also evaluate the initial network before
            the first iteration of a fresh run (not on resume), logged as
            ``init``. Defaults to False.
        raw_pixel_baseline (bool): also evaluate preprocessed pixels as
            features once at the start of a fresh run. Defaults to False.
        num_neighbors, topk, temperature, num_classes: see
            :class:`~mmmix.evaluation.KNNAccuracy`.
        out_index (int): which backbone output to use. Defaults to -1.
        progress (bool): progress bar over feature extraction.
        prefix (str): prefix of logged names. Defaults to ``'knn'``.
    """
    priority = 'LOW'

    def __init__(self,
                 bank_dataloader: dict,
                 query_dataloader: dict,
                 interval: int = 1,
                 by_epoch: bool = True,
                 eval_before_train: bool = False,
                 raw_pixel_baseline: bool = False,
                 num_neighbors: Union[int, Sequence[int]] = (20, 200),
                 topk: Union[int, Sequence[int]] = (1, 5),
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 out_index: int = -1,
                 progress: bool = True,
                 prefix: str = 'knn'):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an integer >= 1, got '
                             f'{interval!r}')
        for name, cfg in (('bank_dataloader', bank_dataloader),
                          ('query_dataloader', query_dataloader)):
            if not isinstance(cfg, dict) or 'dataset' not in cfg:
                raise TypeError(f'{name} must be a dataloader config dict '
                                f'with a dataset, got {cfg!r}')
        self.metric = KNNAccuracy(num_neighbors, topk, temperature,
                                  num_classes)
        self.bank_cfg = bank_dataloader
        self.query_cfg = query_dataloader
        self.interval = interval
        self.by_epoch = by_epoch
        self.eval_before_train = eval_before_train
        self.raw_pixel_baseline = raw_pixel_baseline
        self.out_index = out_index
        self.progress = progress
        self.prefix = prefix
        self._loaders = None
        self._last_step = None

    # ------------------------------------------------------------------ run
    def _dataloaders(self, runner):
        if self._loaders is None:
            self._loaders = (runner.build_dataloader(self.bank_cfg),
                             runner.build_dataloader(self.query_cfg))
        return self._loaders

    def evaluate(self, runner, tag: str, epoch: int,
                 feature_fn=None) -> Dict[str, float]:
        """Extract bank and query features, classify, log; returns metrics."""
        bank_loader, query_loader = self._dataloaders(runner)
        kw = dict(out_index=self.out_index, feature_fn=feature_fn,
                  progress=self.progress)
        bank, bank_labels = extract_features(runner.model, bank_loader, **kw)
        query, query_labels = extract_features(runner.model, query_loader,
                                               **kw)
        result = [None]
        if is_main_process():
            self.metric.set_bank(bank, bank_labels)
            result[0] = self.metric.classify(query, query_labels)
        broadcast_object_list(result)
        metrics = result[0]
        step = runner.iter
        record = dict(tag=tag, epoch=epoch, iter=step, **metrics)
        history = runner.message_hub.get_info(f'{self.prefix}_history', [])
        runner.message_hub.update_info(f'{self.prefix}_history',
                                       history + [record])
        runner.visualizer.add_scalars(
            {f'{self.prefix}/{tag}/{k}': v for k, v in metrics.items()},
            step=step)
        text = ', '.join(f'{k}: {v:.2f}' for k, v in metrics.items())
        runner.logger.info(f'{self.prefix} [{tag}] ({len(bank)} bank, '
                           f'{len(query)} queries) {text}')
        self._last_step = step
        return metrics

    # ---------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        if runner.iter != 0:  # resumed: the initial network is gone
            return
        if self.raw_pixel_baseline:
            self.evaluate(runner, 'raw_pixels', 0,
                          feature_fn=lambda model, x: x.flatten(1))
        if self.eval_before_train:
            self.evaluate(runner, 'init', 0)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and (self.every_n_epochs(runner, self.interval)
                              or self.is_last_train_epoch(runner)):
            # the runner counts the epoch as done after this hook
            self.evaluate(runner, 'trained', runner.epoch + 1)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self.evaluate(runner, 'trained', runner.epoch)

    def after_train(self, runner) -> None:
        if self._last_step != runner.iter:
            self.evaluate(runner, 'trained', runner.epoch)
        if is_main_process():
            self._write_summary(runner)

    def _write_summary(self, runner) -> None:
        history = runner.message_hub.get_info(f'{self.prefix}_history', [])
        summary = {}
        for record in history:  # the last record of each tag
            summary[record['tag']] = record
        summary['history'] = history
        path = osp.join(runner.work_dir, f'{self.prefix}_summary.json')
        with open(path, 'w') as f:
            json.dump(summary, f, indent=2)
        runner.logger.info(f'{self.prefix} summary written to {path}')
