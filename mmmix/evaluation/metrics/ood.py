"""Out-of-distribution detection from a classifier's softmax outputs."""
import numbers
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmmix.ops import ood_detection_scores
from mmmix.registry import METRICS

from .utils import to_int_label


@METRICS.register_module()
class OODDetection(BaseMetric):
    """OOD detection with the maximum softmax probability (Hendrycks, 2017).

    The test set mixes in-distribution (ID) samples and OOD samples, e.g. an
    mmengine ``ConcatDataset`` of the ID test set and a
    :class:`~mmmix.datasets.NoiseDataset`. A sample is OOD when its
    ``gt_label`` is negative (``NoiseDataset`` gives ``-1``) or its metainfo
    has a true ``is_ood`` (packed with ``dict(type='PackInputs',
    meta_keys=(..., 'is_ood'))``, for models whose data preprocessor cannot
    take ``-1``; see :class:`~mmmix.datasets.NoiseDataset`); otherwise it is
    ID.

    The score of a sample is the maximum of its ``pred_score``, taken as
    probabilities as mmpretrain's classification heads give them (no softmax
    is applied here). ID is the positive class. Reported, in %
    (:func:`mmmix.ops.ood_detection_scores`):

    - ``det_acc``: ``(TPR + TNR) / 2`` when a sample is called ID if its
      score is >= ``threshold``;
    - ``det_acc_best``: the same at the best threshold;
    - ``auroc``, ``aupr_in`` (ID positive), ``aupr_out`` (OOD positive);
    - ``id_accuracy``: top-1 accuracy on the ID samples.

    Use it alone on such a set: mmpretrain's ``Accuracy`` would count the OOD
    samples as errors.

    Args:
        threshold (float): score threshold of ``det_acc``, in [0, 1].
            Defaults to 0.5 (the thesis' "threshold of 0.5").
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): defaults to ``'ood'``.
    """
    default_prefix = 'ood'

    def __init__(self, threshold: float = 0.5, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if (not isinstance(threshold, numbers.Real)
                or isinstance(threshold, bool) or not 0 <= threshold <= 1):
            raise ValueError(f'threshold must be a number in [0, 1], got '
                             f'{threshold!r}')
        self.threshold = float(threshold)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' not in sample:
                raise KeyError('OODDetection needs pred_score in the '
                               'predictions (a classifier with a softmax '
                               'head)')
            score = sample['pred_score'].float().cpu()
            label = to_int_label(sample.get('gt_label'))
            is_ood = bool(sample.get('is_ood', False)) or label < 0
            conf, pred = score.max(dim=0)
            self.results.append((float(conf), int(pred), label, is_ood))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        conf = torch.tensor([r[0] for r in results], dtype=torch.float64)
        pred = torch.tensor([r[1] for r in results], dtype=torch.long)
        label = torch.tensor([r[2] for r in results], dtype=torch.long)
        is_ood = torch.tensor([r[3] for r in results], dtype=torch.bool)
        num_ood = int(is_ood.sum())
        num_id = len(results) - num_ood
        if not num_id or not num_ood:
            raise ValueError(
                f'OODDetection needs both in-distribution and OOD samples, '
                f'got {num_id} ID and {num_ood} OOD. OOD samples have a '
                'negative gt_label or is_ood=True in their metainfo (e.g. '
                'a NoiseDataset concatenated with the ID test set).')
        metrics = ood_detection_scores(conf[~is_ood], conf[is_ood],
                                       self.threshold)
        id_correct = (pred[~is_ood] == label[~is_ood]).double()
        metrics['id_accuracy'] = float(id_correct.mean()) * 100
        return metrics
