"""DINO's loss: centred, sharpened teacher against temperature-scaled student.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub

from mmmix.ops.dino import distillation_cross_entropy, teacher_temperature
from mmmix.registry import MODELS


@MODELS.register_module()
class DINOLoss(nn.Module):
    """Self-distillation loss with centering and sharpening (DINO).

    ``P_t(z) = softmax((z - c) / tau_t)`` and ``P_s(z) = softmax(z / tau_s)``;
    the loss is ``sum_{u, v} w_uv mean H(P_t(z^T_u), P_s(z^S_v))`` over the
    pairs the model gives (:func:`mmmix.ops.multicrop_pair_weights` for
    DINO). The centre ``c`` is a persistent buffer (it is in the checkpoint
    and survives resume), updated after the loss with the raw teacher logits
    of every teacher row on every process:
    ``c <- m c + (1 - m) mean(z^T)``. ``tau_t`` follows
    :func:`mmmix.ops.teacher_temperature` of the current epoch, read from
    mmengine's ``MessageHub`` (``epoch``, set by the runner).

    Args:
        out_channels (int): ``K``.
        student_temp (float): ``tau_s``. Defaults to 0.1.
        teacher_temp (float): ``tau_t`` after the warm-up. Defaults to 0.04.
        warmup_teacher_temp (float): ``tau_t`` at epoch 0. Defaults to 0.04.
        warmup_teacher_temp_epochs (int): Defaults to 0.
        center_momentum (float): ``m`` in [0, 1). Defaults to 0.9.
    """

    def __init__(self, out_channels: int, student_temp: float = 0.1,
                 teacher_temp: float = 0.04,
                 warmup_teacher_temp: float = 0.04,
                 warmup_teacher_temp_epochs: int = 0,
                 center_momentum: float = 0.9) -> None:
        super().__init__()
        for name, v in (('student_temp', student_temp),
                        ('teacher_temp', teacher_temp),
                        ('warmup_teacher_temp', warmup_teacher_temp)):
            if not v > 0:
                raise ValueError(f'{name} must be > 0, got {v}')
        if not 0 <= center_momentum < 1:
            raise ValueError('center_momentum must be in [0, 1), got '
                             f'{center_momentum}')
        if warmup_teacher_temp_epochs < 0:
            raise ValueError('warmup_teacher_temp_epochs must be >= 0, got '
                             f'{warmup_teacher_temp_epochs}')
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp = warmup_teacher_temp
        self.warmup_teacher_temp_epochs = warmup_teacher_temp_epochs
        self.center_momentum = center_momentum
        self.register_buffer('center', torch.zeros(1, out_channels))

    def current_teacher_temp(self, epoch: Optional[int] = None) -> float:
        """``tau_t`` of ``epoch`` (default: the runner's current epoch)."""
        if epoch is None:
            epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return teacher_temperature(epoch, self.teacher_temp,
                                   self.warmup_teacher_temp,
                                   self.warmup_teacher_temp_epochs)

    def teacher_probs(self, teacher_logits: torch.Tensor,
                      epoch: Optional[int] = None) -> torch.Tensor:
        """Centred, sharpened teacher distributions (no grad)."""
        temp = self.current_teacher_temp(epoch)
        z = teacher_logits.detach().float()
        return torch.softmax((z - self.center) / temp, dim=-1)

    def forward(self, teacher_logits: torch.Tensor,
                student_logits: torch.Tensor, weights: torch.Tensor,
                epoch: Optional[int] = None, update_center: bool = True,
                return_probs: bool = False):
        """Loss of ``(Vt, R, K)`` teacher and ``(Vs, R, K)`` student logits.

        ``weights`` is ``(Vt, Vs)``. The centre is updated afterwards (from
        the raw teacher logits) unless ``update_center=False``. With
        ``return_probs`` the teacher distributions are returned too.
        """
        if teacher_logits.shape[-1] != self.center.shape[-1]:
            raise ValueError(
                f'teacher logits have {teacher_logits.shape[-1]} channels, '
                f'the loss was built for out_channels='
                f'{self.center.shape[-1]}')
        probs = self.teacher_probs(teacher_logits, epoch)
        loss = distillation_cross_entropy(probs, student_logits, weights,
                                          self.student_temp)
        if update_center:
            self.update_center(teacher_logits)
        return (loss, probs) if return_probs else loss

    @torch.no_grad()
    def update_center(self, teacher_logits: torch.Tensor) -> None:
        """``c <- m c + (1 - m) mean`` over all rows of all processes."""
        z = teacher_logits.detach().float().reshape(-1,
                                                    self.center.shape[-1])
        total = z.sum(0, keepdim=True)
        all_reduce(total)
        mean = total / (z.shape[0] * get_world_size())
        self.center.mul_(self.center_momentum).add_(
            mean, alpha=1 - self.center_momentum)
