"""Heads that also return per-sample pair losses (for CLIM's Eq. 4)."""
import torch
from mmpretrain.models.heads import ContrastiveHead, LatentPredictHead
from mmpretrain.models.losses import CosineSimilarityLoss, CrossEntropyLoss

from mmmix.ops.contrastive import cosine_pair_losses, nce_pair_losses
from mmmix.registry import MODELS


@MODELS.register_module()
class MixedContrastiveHead(ContrastiveHead):
    """mmpretrain's ``ContrastiveHead`` plus per-sample NCE terms.

    ``loss(pos, neg)`` is inherited unchanged (MoCo's instance loss);
    :meth:`pair_losses` gives, for one query and several positives sharing
    the queue, the per-sample losses CLIM weights by the mixing ratio.

    Args:
        loss (dict): must be a plain ``CrossEntropyLoss`` (the per-sample
            terms are its cross-entropy). Defaults to it.
        temperature (float): softmax temperature, > 0. Defaults to 0.2.
    """

    def __init__(self, loss: dict = dict(type='CrossEntropyLoss'),
                 temperature: float = 0.2, init_cfg=None) -> None:
        super().__init__(loss=loss, temperature=temperature,
                         init_cfg=init_cfg)
        lm = self.loss_module
        if not isinstance(lm, CrossEntropyLoss) or lm.use_sigmoid or \
                lm.use_soft or lm.loss_weight != 1.0:
            raise ValueError(
                'MixedContrastiveHead.loss must be a plain '
                f'CrossEntropyLoss (weight 1), got {loss}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')

    def pair_losses(self, query: torch.Tensor, keys,
                    queue: torch.Tensor) -> torch.Tensor:
        """``(p, b)`` NCE losses of ``query`` against each of ``p`` keys.

        See :func:`mmmix.ops.nce_pair_losses`.
        """
        return nce_pair_losses(query, keys, queue, self.temperature)


@MODELS.register_module()
class MixedLatentPredictHead(LatentPredictHead):
    """mmpretrain's ``LatentPredictHead`` plus per-sample cosine terms.

    :meth:`pair_losses` applies the predictor once to the online
    projections and compares them with several (detached) targets; the
    batch mean of one row is ``loss(input, target)``.

    Args:
        loss (dict): a ``CosineSimilarityLoss``.
        predictor (dict): the predictor neck.
    """

    def __init__(self, loss: dict, predictor: dict, init_cfg=None) -> None:
        super().__init__(loss=loss, predictor=predictor, init_cfg=init_cfg)
        if not isinstance(self.loss_module, CosineSimilarityLoss):
            raise ValueError('MixedLatentPredictHead.loss must be a '
                             f'CosineSimilarityLoss, got {loss}')

    def pair_losses(self, input: torch.Tensor, keys) -> torch.Tensor:
        """``(p, b)`` losses of ``predictor(input)`` against ``p`` targets."""
        pred = self.predictor([input])[0]
        keys = keys.detach() if isinstance(keys, torch.Tensor) else [
            k.detach() for k in keys]
        return cosine_pair_losses(pred, keys, self.loss_module.shift_factor,
                                  self.loss_module.scale_factor)
