"""Recall@K and MAP@R of deep metric learning (zero-shot retrieval)."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement

from mmmix.ops import map_at_r as compute_map_at_r
from mmmix.ops import recall_at_k
from mmmix.registry import METRICS

from .utils import to_int_label


def _check_topk(topk) -> tuple:
    topk = (topk, ) if isinstance(topk, int) else tuple(topk)
    if not topk or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1
            for k in topk):
        raise ValueError(f'topk must be positive integers, got {topk}')
    return topk


def _field(sample: dict, name: str, hint: str = ''):
    value = sample.get(name)
    if value is None:
        raise KeyError(f'RetrievalRecall needs {name!r} in every data sample'
                       f'{hint}; this one has {sorted(sample)}')
    return value


@METRICS.register_module()
class RetrievalRecall(BaseMetric):
    """Recall@K (hit rate) and MAP@R of cosine retrieval with faiss.

    Each processed sample is a dict (the model's data sample converted by
    the evaluator) with ``'embedding'`` (1-D tensor) and ``'gt_label'``;
    with ``query_gallery=True`` also ``'is_query'`` (a bool metainfo field,
    set by the In-Shop dataset). Embeddings are L2-normalised before the
    search.

    * ``query_gallery=False`` (CUB200, Cars196, SOP): every sample is a
      query retrieving from all the others; its own row is removed by index.
    * ``query_gallery=True`` (In-Shop): queries retrieve from the gallery
      samples (``is_query`` False), nothing excluded.

    Results of all processes are gathered by
    :class:`~mmengine.evaluator.BaseMetric`. See
    :func:`mmmix.ops.recall_at_k` and :func:`mmmix.ops.map_at_r`.

    Args:
        topk (int | Sequence[int]): the K of Recall@K. Defaults to
            (1, 2, 4, 8).
        map_at_r (bool): also compute MAP@R. Defaults to True.
        query_gallery (bool): In-Shop query -> gallery protocol. Defaults
            to False.
        max_r (int, optional): cap of R in MAP@R (None: no cap).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): metric name prefix. Defaults to
            ``'retrieval'``.

    Returns (of ``evaluate``): ``{'retrieval/R@1': .., 'retrieval/MAP@R':
    ..}``, in percent.
    """
    default_prefix = 'retrieval'

    def __init__(self,
                 topk=(1, 2, 4, 8),
                 map_at_r: bool = True,
                 query_gallery: bool = False,
                 max_r: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = _check_topk(topk)
        if max_r is not None and not (isinstance(max_r, int) and max_r >= 1):
            raise ValueError(f'max_r must be a positive int or None, got '
                             f'{max_r!r}')
        self.map_at_r = bool(map_at_r)
        self.query_gallery = bool(query_gallery)
        self.max_r = max_r

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            emb = _field(sample, 'embedding', " (the model's predict() sets "
                         'it)')
            emb = torch.as_tensor(emb).detach().float().cpu().reshape(-1)
            label = to_int_label(_field(sample, 'gt_label'))
            if label < 0:
                raise ValueError(f'gt_label must be a label >= 0, got '
                                 f'{sample["gt_label"]!r}')
            is_query = None
            if self.query_gallery:
                is_query = bool(
                    to_int_label(
                        _field(sample, 'is_query',
                               ' with query_gallery=True (a metainfo field '
                               'of the In-Shop dataset)')))
            self.results.append((emb, label, is_query))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        emb = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results], dtype=torch.long)
        if self.query_gallery:
            is_query = torch.tensor([r[2] for r in results], dtype=torch.bool)
            if is_query.all() or not is_query.any():
                raise ValueError(
                    'query_gallery=True needs both query and gallery samples, '
                    f'got {int(is_query.sum())} queries and '
                    f'{int((~is_query).sum())} gallery samples')
            args = (emb[is_query], labels[is_query], emb[~is_query],
                    labels[~is_query])
        else:
            args = (emb, labels, None, None)
        recalls = recall_at_k(args[0], args[1], self.topk, args[2], args[3])
        metrics = {f'R@{k}': 100 * v for k, v in recalls.items()}
        if self.map_at_r:
            metrics['MAP@R'] = 100 * compute_map_at_r(*args, max_r=self.max_r)
        return metrics
