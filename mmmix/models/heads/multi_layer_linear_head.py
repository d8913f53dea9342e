"""Multi-layer ("multi-head") linear probe of a frozen backbone.

The linear-evaluation protocol of Goyal et al. 2019 ("Scaling and
Benchmarking Self-Supervised Visual Representation Learning") as
OpenSelfSup / mmselfsup 0.x ran it and InterCLR reports it (spec interclr.md
§5.1, A20): the feature map of several depths is average-pooled to a fixed
spatial size so that each flattened vector has about 9k dimensions, batch
normalised without affine parameters, and classified by its own linear
layer. All layers train at once on the same batch; the best layer is what
papers report.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from mmpretrain.structures import DataSample

from mmmix.registry import MODELS

#: ResNet-50 stages (res2..res5, mmpretrain ``out_indices=(0, 1, 2, 3)``)
#: and the pool sizes that give about 9k dimensions each (9216, 8192, 9216,
#: 8192), as in OpenSelfSup's multi-head benchmark
RESNET50_CHANNELS = (256, 512, 1024, 2048)
RESNET50_POOL_SIZES = (6, 4, 3, 2)


def _positive_ints(name: str, values) -> Tuple[int, ...]:
    if isinstance(values, int) or not isinstance(values, Sequence):
        raise TypeError(f'{name} must be a list of positive ints, got '
                        f'{values!r}')
    values = tuple(values)
    if not values:
        raise ValueError(f'{name} must not be empty')
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f'{name} must hold positive ints, got {values}')
    return values


@MODELS.register_module()
class MultiLayerLinearHead(ClsHead):
    """One linear classifier on each of several backbone feature maps.

    Layer ``i`` takes ``feats[in_indices[i]]`` (``(b, C_i, H, W)``),
    average-pools it to ``pool_sizes[i] x pool_sizes[i]``
    (``adaptive_avg_pool2d``), normalises it with a BatchNorm without affine
    parameters and maps the flattened ``C_i * p_i^2`` vector to
    ``num_classes`` logits. Use it in an ``ImageClassifier`` with
    ``neck=None`` (the classifier then passes the tuple of backbone
    outputs to the head) and a frozen backbone (``frozen_stages`` covering
    every stage, ``norm_eval=True``).

    ``loss`` returns ``loss_<name>`` for every layer (mmengine sums all keys
    containing ``"loss"``, so every classifier trains on its own
    cross-entropy: they share no parameters) and, with ``cal_acc``,
    ``accuracy_<name>_top-<k>``. ``predict`` sets ``pred_score`` /
    ``pred_label`` from layer ``pred_layer`` (the deepest by default) and
    stores every layer's softmax scores in the data sample field
    ``multi_layer_scores``, a dict ``{name: (num_classes,) tensor}``, which
    :class:`~mmmix.evaluation.MultiLayerAccuracy` turns into per-layer
    top-k accuracies.

    The conv1 stem (64 channels, pool 12 in OpenSelfSup) is not included
    by the shipped configs: mmpretrain's ``ResNet.out_indices`` covers the
    four residual stages only. The head itself takes any number of maps,
    so a backbone that also returns the stem output can use it.

    Differences from OpenSelfSup's ``MultiClsHead`` (reference only): its
    benchmark configs pool with fixed ``AvgPool2d`` kernels tuned for
    224 px inputs (``pool_type='specified'``), here the pooling is
    adaptive (its ``pool_type='adaptive'``), which gives the same output
    sizes at any input size. It normalises per channel (``BatchNorm2d``
    on the pooled map); here the default is one statistic per flattened
    dimension (``BatchNorm1d``), and ``norm_per_channel=True`` gives the
    per-channel variant.

    Args:
        num_classes (int): number of classes.
        in_channels (Sequence[int]): channels of each used feature map.
        pool_sizes (Sequence[int]): output side of the average pooling of
            each map, same length as ``in_channels``.
        in_indices (Sequence[int], optional): which entries of the feature
            tuple the layers take (negative indices count from the end).
            Defaults to all of them, in order: the tuple must then have
            ``len(in_channels)`` entries.
        layer_names (Sequence[str], optional): names used in the loss,
            accuracy and score keys. Defaults to ``layer1``, ``layer2``...
        norm_per_channel (bool): normalise each channel of the pooled map
            (``BatchNorm2d``) instead of each flattened dimension
            (``BatchNorm1d``). Defaults to False.
        pred_layer (int): index of the layer whose scores become
            ``pred_score``. Defaults to -1 (the last one).
        loss (dict): classification loss of every layer. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        topk (int | Sequence[int]): top-k of the training accuracies.
            Defaults to ``(1, )``.
        cal_acc (bool): log each layer's training accuracy. Defaults to
            False.
        init_cfg (dict | list[dict], optional): defaults to a normal
            initialisation of the linear layers with std 0.01 (bias 0).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int],
                 pool_sizes: Sequence[int],
                 in_indices: Optional[Sequence[int]] = None,
                 layer_names: Optional[Sequence[str]] = None,
                 norm_per_channel: bool = False,
                 pred_layer: int = -1,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk: Union[int, Sequence[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer='Linear', std=0.01)):
        if isinstance(num_classes, bool) or not isinstance(
                num_classes, int) or num_classes < 1:
            raise ValueError(
                f'num_classes must be a positive int, got {num_classes!r}')
        in_channels = _positive_ints('in_channels', in_channels)
        pool_sizes = _positive_ints('pool_sizes', pool_sizes)
        num_layers = len(in_channels)
        if len(pool_sizes) != num_layers:
            raise ValueError(
                f'pool_sizes has {len(pool_sizes)} entries but in_channels '
                f'has {num_layers}: give one pool size per layer')
        if in_indices is None:
            in_indices = tuple(range(num_layers))
        else:
            in_indices = tuple(in_indices)
            if len(in_indices) != num_layers or not all(
                    isinstance(i, int) and not isinstance(i, bool)
                    for i in in_indices):
                raise ValueError(
                    f'in_indices must hold {num_layers} ints (one per '
                    f'layer of in_channels), got {in_indices}')
        if layer_names is None:
            layer_names = tuple(f'layer{i + 1}' for i in range(num_layers))
        else:
            layer_names = tuple(layer_names)
            if len(layer_names) != num_layers or not all(
                    isinstance(n, str) and n for n in layer_names):
                raise ValueError(
                    f'layer_names must hold {num_layers} non-empty strings '
                    f'(one per layer of in_channels), got {layer_names}')
            if len(set(layer_names)) != num_layers:
                raise ValueError(
                    f'layer_names must be unique, got {layer_names}')
            if any('loss' in n for n in layer_names):
                raise ValueError(
                    'layer_names must not contain "loss" (mmengine would '
                    f'sum the accuracies into the loss), got {layer_names}')
        if not -num_layers <= pred_layer < num_layers:
            raise ValueError(f'pred_layer={pred_layer} is not a layer index '
                             f'(there are {num_layers} layers)')
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc,
                         init_cfg=init_cfg)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.pool_sizes = pool_sizes
        self.in_indices = in_indices
        self.layer_names = layer_names
        self.norm_per_channel = norm_per_channel
        self.pred_layer = pred_layer % num_layers
        self.feat_dims = tuple(c * p * p
                               for c, p in zip(in_channels, pool_sizes))
        if norm_per_channel:
            self.norms = nn.ModuleList(
                nn.BatchNorm2d(c, affine=False) for c in in_channels)
        else:
            self.norms = nn.ModuleList(
                nn.BatchNorm1d(d, affine=False) for d in self.feat_dims)
        self.fcs = nn.ModuleList(
            nn.Linear(d, num_classes) for d in self.feat_dims)

    @property
    def num_layers(self) -> int:
        return len(self.in_channels)

    def pre_logits(self, feats: Sequence[torch.Tensor]
                   ) -> List[torch.Tensor]:
        """Pooled, normalised and flattened features, one per layer."""
        if not isinstance(feats, (tuple, list)):
            raise TypeError(
                'MultiLayerLinearHead needs the tuple of backbone feature '
                'maps (an ImageClassifier with neck=None), got '
                f'{type(feats).__name__}')
        try:
            maps = [feats[i] for i in self.in_indices]
        except IndexError:
            raise ValueError(
                f'got {len(feats)} feature maps but in_indices='
                f'{self.in_indices}; set the backbone out_indices to give '
                'one map per layer') from None
        out = []
        for i, (x, norm) in enumerate(zip(maps, self.norms)):
            if x.dim() != 4 or x.shape[1] != self.in_channels[i]:
                raise ValueError(
                    f'layer {self.layer_names[i]} expects (b, '
                    f'{self.in_channels[i]}, h, w) maps, got '
                    f'{tuple(x.shape)}')
            x = F.adaptive_avg_pool2d(x, self.pool_sizes[i])
            if self.norm_per_channel:
                x = norm(x).flatten(1)
            else:
                x = norm(x.flatten(1))
            out.append(x)
        return out

    def forward(self, feats: Sequence[torch.Tensor]
                ) -> List[torch.Tensor]:
        """Logits ``(b, num_classes)`` of every layer."""
        return [fc(x) for fc, x in zip(self.fcs, self.pre_logits(feats))]

    def _get_loss(self, cls_scores: List[torch.Tensor],
                  data_samples: List[DataSample], **kwargs) -> dict:
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
        else:
            target = torch.cat([s.gt_label for s in data_samples])
        losses = dict()
        for name, score in zip(self.layer_names, cls_scores):
            losses[f'loss_{name}'] = self.loss_module(
                score, target, avg_factor=score.size(0), **kwargs)
        if self.cal_acc:
            if target.ndim != 1:
                raise ValueError('cal_acc needs hard labels (no batch '
                                 'augmentation that makes soft targets)')
            topk = (self.topk, ) if isinstance(self.topk, int) \
                else tuple(self.topk)
            for name, score in zip(self.layer_names, cls_scores):
                acc = Accuracy.calculate(score.detach(), target, topk=topk)
                # one list per k, one value per score threshold (one here)
                losses.update({
                    f'accuracy_{name}_top-{k}': a[0]
                    for k, a in zip(topk, acc)
                })
        return losses

    def _get_predictions(self, cls_scores: List[torch.Tensor],
                         data_samples: Optional[List[DataSample]]
                         ) -> List[DataSample]:
        probs = [F.softmax(s, dim=1).detach() for s in cls_scores]
        main = probs[self.pred_layer]
        labels = main.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [None] * main.size(0)
        out = []
        for i, sample in enumerate(data_samples):
            if sample is None:
                sample = DataSample()
            sample.set_pred_score(main[i]).set_pred_label(labels[i])
            sample.set_field(
                {name: p[i] for name, p in zip(self.layer_names, probs)},
                'multi_layer_scores', field_type='data')
            out.append(sample)
        return out
