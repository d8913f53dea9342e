"""Weighted k-NN accuracy on frozen features."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmmix.ops import knn_accuracy
from mmmix.registry import METRICS

from .utils import to_int_label


def _check_positive_ints(name: str, values) -> tuple:
    values = (values, ) if isinstance(values, int) else tuple(values)
    if not values or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f'{name} must be positive integers, got {values}')
    return values


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Weighted k-NN classification accuracy (Wu et al., 2018).

    The bank (training features and labels) is given with :meth:`set_bank`;
    each processed sample is a query: a dict with ``'feat'`` (1-D tensor) and
    ``'gt_label'``. Search is exact cosine similarity with faiss. Results are
    gathered across processes by :class:`~mmengine.evaluator.BaseMetric`.

    Args:
        num_neighbors (int | Sequence[int]): k values; one search serves all.
            Defaults to (20, 200).
        topk (int | Sequence[int]): top-k accuracies. Defaults to (1, 5).
        temperature (float): vote weight ``exp(sim / temperature)``, > 0.
            Defaults to 0.07.
        num_classes (int, optional): inferred from the labels when None.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): metric name prefix. Defaults to ``'knn'``.
    """
    default_prefix = 'knn'

    def __init__(self,
                 num_neighbors=(20, 200),
                 topk=(1, 5),
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_neighbors = _check_positive_ints('num_neighbors',
                                                  num_neighbors)
        self.topk = _check_positive_ints('topk', topk)
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if num_classes is not None and max(self.topk) > num_classes:
            raise ValueError(f'topk={self.topk} exceeds num_classes='
                             f'{num_classes}')
        self.temperature = float(temperature)
        self.num_classes = num_classes
        self.bank_feats = None
        self.bank_labels = None

    def set_bank(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Set the labelled features queries are classified against."""
        if len(feats) != len(labels):
            raise ValueError(f'{len(feats)} bank features but {len(labels)} '
                             'labels')
        if len(feats) < max(self.num_neighbors):
            raise ValueError(
                f'num_neighbors={self.num_neighbors} exceeds the bank size '
                f'{len(feats)}')
        self.bank_feats = feats
        self.bank_labels = labels.long()

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((sample['feat'].float().cpu(),
                                 to_int_label(sample['gt_label'])))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        query = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        return self.classify(query, labels)

    def classify(self, query: torch.Tensor,
                 labels: torch.Tensor) -> Dict[str, float]:
        """Accuracies of ``(q, d)`` query features with ``(q,)`` labels."""
        if self.bank_feats is None:
            raise RuntimeError('KNNAccuracy needs set_bank() before evaluate')
        num_classes = self.num_classes
        if num_classes is None:
            num_classes = int(max(self.bank_labels.max(), labels.max())) + 1
        if max(self.topk) > num_classes:
            raise ValueError(f'topk={self.topk} exceeds the {num_classes} '
                             'classes')
        return knn_accuracy(query, labels, self.bank_feats, self.bank_labels,
                            self.num_neighbors, self.topk, self.temperature,
                            num_classes)
