"""Calibration metrics of a classifier's softmax outputs."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmmix.ops import calibration_errors
from mmmix.registry import METRICS

from .utils import to_int_label


@METRICS.register_module()
class CalibrationError(BaseMetric):
    """Expected calibration error (ECE) and overconfidence error (OE), in %.

    Works with mmpretrain classifiers' predictions (``pred_score`` holds the
    softmax scores, ``gt_label`` the label); the maths is
    :func:`mmmix.ops.calibration_errors`.

    Args:
        num_bins (int): equal-width confidence bins, >= 1. Defaults to 15.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): defaults to ``'calibration'``.
    """
    default_prefix = 'calibration'

    def __init__(self, num_bins: int = 15, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not isinstance(num_bins, int) or num_bins < 1:
            raise ValueError(f'num_bins must be an integer >= 1, got '
                             f'{num_bins!r}')
        self.num_bins = num_bins

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' not in sample:
                raise KeyError('CalibrationError needs pred_score in the '
                               'predictions (a classifier with a softmax '
                               'head)')
            self.results.append((sample['pred_score'].float().cpu(),
                                 to_int_label(sample['gt_label'])))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        probs = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        ece, oe = calibration_errors(probs, labels, self.num_bins)
        return dict(ece=ece, oe=oe)
