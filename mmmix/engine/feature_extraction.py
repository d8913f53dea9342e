"""Frozen-feature extraction over a dataloader, gathered across processes."""
from typing import Callable, Optional, Tuple

import torch
from mmengine.dist import all_gather, get_world_size, is_main_process
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from mmmix.evaluation.metrics.utils import to_int_label


def pool_features(feats, out_index: int = -1) -> torch.Tensor:
    """Backbone/neck output -> ``(b, d)``: pick a stage, average-pool."""
    if isinstance(feats, (tuple, list)):
        feats = feats[out_index]
    if feats.dim() == 4:
        feats = feats.mean(dim=(2, 3))
    return feats.flatten(1)


def _model_inputs(model, data: dict) -> torch.Tensor:
    data = model.data_preprocessor(data, False)
    inputs = data['inputs']
    if isinstance(inputs, (list, tuple)):  # multi-view pipelines: first view
        inputs = inputs[0]
    return inputs, data['data_samples']


def _sample_indices(data_samples, batch_size: int):
    idx = [getattr(s, 'sample_idx', None) for s in data_samples or []]
    if len(idx) == batch_size and all(i is not None for i in idx):
        return torch.as_tensor(idx, dtype=torch.long)
    return None


@torch.no_grad()
def extract_features(model,
                     dataloader,
                     out_index: int = -1,
                     feature_fn: Optional[Callable] = None,
                     progress: bool = True
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Extract one feature vector and the label of every sample.

    The model is run in eval mode (and put back in its previous mode). Inputs
    go through ``model.data_preprocessor``; features are
    ``model.extract_feat`` reduced by :func:`pool_features` unless
    ``feature_fn(model, inputs)`` is given. With several processes each
    extracts its shard and the results are gathered and put back in dataset
    order (sampler padding dropped), on every process.

    Returns:
        tuple: ``(feats (n, d) float32 on CPU, labels (n,) long)``; labels
        are -1 where the dataset has none.
    """
    if is_model_wrapper(model):
        model = model.module
    was_training = model.training
    model.eval()
    feats, labels, indices = [], [], []
    bar = ProgressBar(len(dataloader)) if progress and is_main_process() \
        else None
    seen = 0
    for data in dataloader:
        inputs, samples = _model_inputs(model, data)
        if feature_fn is None:
            out = pool_features(model.extract_feat(inputs), out_index)
        else:
            out = feature_fn(model, inputs)
        b = out.shape[0]
        feats.append(out.float().cpu())
        idx = _sample_indices(samples, b)
        if idx is None:
            if get_world_size() > 1:
                raise KeyError(
                    'extract_features with several processes needs '
                    "'sample_idx' in the data samples' metainfo (keep it in "
                    "PackInputs' meta_keys) to put features in dataset order.")
            idx = torch.arange(seen, seen + b)
        indices.append(idx)
        lab = [to_int_label(s.get('gt_label')) for s in samples] \
            if samples else [-1] * b
        labels.append(torch.as_tensor(lab, dtype=torch.long).reshape(-1))
        seen += b
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    model.train(was_training)
    feats = torch.cat(feats) if feats else torch.zeros(0, 0)
    labels = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    indices = torch.cat(indices) if indices else torch.zeros(
        0, dtype=torch.long)
    if get_world_size() > 1:
        feats, labels, indices = _gather(feats, labels, indices)
    order = _dedup_order(indices)
    return feats[order], labels[order]


def _dedup_order(indices: torch.Tensor) -> torch.Tensor:
    """Positions that put samples in dataset order, each index once."""
    uniq, inverse = torch.unique(indices, return_inverse=True)
    first = torch.full((len(uniq), ), len(indices), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(indices)), 'amin')
    return first


def _gather(feats, labels, indices):
    """All-gather variable-length shards (padded to the longest)."""
    n = torch.tensor([feats.shape[0]])
    sizes = [int(s) for s in all_gather(n)]
    m, d = max(sizes), feats.shape[1]
    pad = m - feats.shape[0]
    feats = torch.cat([feats, feats.new_zeros(pad, d)])
    labels = torch.cat([labels, labels.new_full((pad, ), -1)])
    indices = torch.cat([indices, indices.new_full((pad, ), -1)])
    parts = [all_gather(t) for t in (feats, labels, indices)]
    keep = [torch.arange(s) + r * m for r, s in enumerate(sizes)]
    keep = torch.cat(keep)
    feats, labels, indices = (torch.cat(p)[keep] for p in parts)
    return feats, labels, indices
