"""Top-k accuracy of every layer of a multi-layer linear probe."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmmix.registry import METRICS

from .utils import to_int_label


@METRICS.register_module()
class MultiLayerAccuracy(BaseMetric):
    """Per-layer top-k accuracy (%) and the best layer.

    Reads the ``multi_layer_scores`` field that
    :class:`~mmmix.models.MultiLayerLinearHead` stores in each predicted
    data sample (``{layer name: (num_classes,) scores}``) and the sample's
    ``gt_label``. Only the top ``max(topk)`` class indices of each layer
    are kept per sample, so evaluating ImageNet val does not hold
    50,000 x layers x 1,000 scores.

    Results, with the default prefix: ``multi_layer/<name>_top<k>`` for
    every layer and k, ``multi_layer/best_top<k>`` (the accuracies of the
    layer with the highest top-``topk[0]``; ties go to the deeper layer) and
    ``multi_layer/best_layer`` (its 1-based position, a number so that
    loggers accept it; its name is printed).

    Args:
        topk (int | Sequence[int]): k values. Defaults to (1, 5).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): defaults to ``'multi_layer'``.
    """
    default_prefix = 'multi_layer'

    def __init__(self,
                 topk=(1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk or not all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 1
                for k in topk):
            raise ValueError(f'topk must be positive ints, got {topk}')
        self.topk = topk

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        maxk = max(self.topk)
        for sample in data_samples:
            scores = sample.get('multi_layer_scores')
            if not scores:
                raise KeyError(
                    'MultiLayerAccuracy needs the multi_layer_scores field '
                    'of the predictions (MultiLayerLinearHead.predict)')
            label = to_int_label(sample.get('gt_label'))
            if label < 0:
                raise ValueError('MultiLayerAccuracy needs a gt_label')
            top = {
                name: s.detach().float().topk(min(maxk, s.numel()))[1].cpu()
                for name, s in scores.items()
            }
            self.results.append((label, top))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        names = list(results[0][1])
        labels = torch.tensor([r[0] for r in results])
        metrics = {}
        per_layer = {}
        for name in names:
            top = torch.stack([r[1][name] for r in results])
            hit = top == labels[:, None]
            per_layer[name] = [
                100. * hit[:, :k].any(dim=1).float().mean().item()
                for k in self.topk
            ]
            for k, acc in zip(self.topk, per_layer[name]):
                metrics[f'{name}_top{k}'] = acc
        # ties go to the deeper (later) layer
        best = max(range(len(names)),
                   key=lambda i: (per_layer[names[i]][0], i))
        for k, acc in zip(self.topk, per_layer[names[best]]):
            metrics[f'best_top{k}'] = acc
        metrics['best_layer'] = best + 1
        print_log(
            f'multi-layer probe: best layer {names[best]} '
            f'(top-{self.topk[0]} {per_layer[names[best]][0]:.2f})',
            logger='current')
        return metrics
