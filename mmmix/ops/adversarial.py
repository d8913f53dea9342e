"""White-box l_inf attacks (FGSM, PGD) in [0, 1] pixel space.

Both attacks take a ``forward_fn(x01) -> logits`` callable, so that the
normalisation a model expects lives inside it and the perturbation budget is
measured on pixels scaled to [0, 1]. The loss is the cross-entropy summed over
the batch (its gradient w.r.t. one sample does not depend on the batch size).
Gradients are taken w.r.t. the input only, with :func:`torch.autograd.grad`:
the ``.grad`` of the model's parameters is never written, and the model's
train/eval mode is left as it is (callers put it in eval mode).
"""
import math
from numbers import Real
from typing import Callable, Optional

import torch
import torch.nn.functional as F

ForwardFn = Callable[[torch.Tensor], torch.Tensor]


def _check_real(name: str, value, low: float, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f'{name} must be a real number, got {value!r}')
    value = float(value)
    bad = value <= low if strict else value < low
    if bad or not math.isfinite(value):
        op = '>' if strict else '>='
        raise ValueError(f'{name} must be finite and {op} {low}, got {value}')
    return value


def _check_inputs(x: torch.Tensor, labels: torch.Tensor) -> None:
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError('x must be a floating-point tensor, got '
                        f'{getattr(x, "dtype", type(x))}')
    if x.dim() < 1:
        raise ValueError('x must have a batch dimension, got a 0-d tensor')
    if x.numel() and (bool(x.min() < 0) or bool(x.max() > 1)):
        raise ValueError(
            f'x must lie in [0, 1], got values in [{float(x.min())}, '
            f'{float(x.max())}]; scale pixels to [0, 1] and put the '
            'normalisation inside forward_fn')
    if (not torch.is_tensor(labels) or labels.shape != x.shape[:1]
            or labels.is_floating_point()):
        raise ValueError(
            f'labels must be an integer tensor of shape ({x.shape[0]},), got '
            f'{getattr(labels, "dtype", type(labels))} of shape '
            f'{tuple(getattr(labels, "shape", ()))}')


def input_gradient(forward_fn: ForwardFn, x: torch.Tensor,
                   labels: torch.Tensor) -> torch.Tensor:
    """Gradient of the summed cross-entropy w.r.t. the input ``x``.

    Args:
        forward_fn (callable): ``forward_fn(x) -> logits`` of shape
            ``(N, K)``.
        x (Tensor): ``(N, ...)`` input.
        labels (Tensor): ``(N,)`` integer labels.

    Returns:
        Tensor: the gradient, same shape and dtype as ``x``; zeros where the
        logits do not depend on ``x``.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = forward_fn(x)
        if not torch.is_tensor(logits) or logits.dim() != 2 \
                or logits.shape[0] != x.shape[0]:
            raise ValueError(
                f'forward_fn must return (N, K) logits with N={x.shape[0]}, '
                f'got {tuple(getattr(logits, "shape", ())) or type(logits)}')
        loss = F.cross_entropy(
            logits.float(), labels.to(logits.device).long(), reduction='sum')
        if not loss.requires_grad:
            return torch.zeros_like(x, requires_grad=False)
        (grad, ) = torch.autograd.grad(loss, x, allow_unused=True)
    if grad is None:
        return torch.zeros_like(x, requires_grad=False)
    return grad


def fgsm(forward_fn: ForwardFn, x: torch.Tensor, labels: torch.Tensor,
         eps: float) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al., 2015).

    ``x_adv = clip(x + eps * sign(grad_x CE(forward_fn(x), labels)), 0, 1)``

    Args:
        forward_fn (callable): ``forward_fn(x01) -> (N, K)`` logits; any
            normalisation belongs inside it.
        x (Tensor): ``(N, ...)`` clean inputs in [0, 1], any device/dtype.
        labels (Tensor): ``(N,)`` integer labels.
        eps (float): step size and l_inf budget, >= 0 (e.g. ``8 / 255``).

    Returns:
        Tensor: adversarial inputs in [0, 1], detached, like ``x``.
    """
    eps = _check_real('eps', eps, 0., strict=False)
    _check_inputs(x, labels)
    x = x.detach()
    if eps == 0:
        return x.clone()
    grad = input_gradient(forward_fn, x, labels)
    return (x + eps * grad.sign()).clamp_(0, 1)


def pgd(forward_fn: ForwardFn,
        x: torch.Tensor,
        labels: torch.Tensor,
        eps: float,
        step_size: float,
        steps: int = 10,
        random_start: bool = True,
        generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Projected gradient descent on the loss, l_inf (Madry et al., 2018).

    Starting from ``x`` (or a uniform draw in the eps-ball around it, clipped
    to [0, 1], with ``random_start``), ``steps`` times::

        x_adv = clip(proj_eps(x_adv + step_size * sign(grad)), 0, 1)

    where ``proj_eps`` clamps each pixel to ``[x - eps, x + eps]``. The last
    iterate is returned. With ``steps=1``, ``random_start=False`` and
    ``step_size=eps`` this is :func:`fgsm`.

    Args:
        forward_fn (callable): ``forward_fn(x01) -> (N, K)`` logits.
        x (Tensor): ``(N, ...)`` clean inputs in [0, 1], any device/dtype.
        labels (Tensor): ``(N,)`` integer labels.
        eps (float): l_inf budget, >= 0 (e.g. ``4 / 255``).
        step_size (float): size of each signed step, > 0 (e.g. ``2 / 255``).
        steps (int): number of steps, >= 1. Defaults to 10.
        random_start (bool): start from a uniform draw in the eps-ball.
            Defaults to True.
        generator (torch.Generator, optional): generator of the random start,
            on any device (the draw is moved to ``x``'s device). Defaults to
            the global generator of ``x``'s device.

    Returns:
        Tensor: adversarial inputs in [0, 1], detached, like ``x``.
    """
    eps = _check_real('eps', eps, 0., strict=False)
    step_size = _check_real('step_size', step_size, 0., strict=True)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f'steps must be an integer >= 1, got {steps!r}')
    _check_inputs(x, labels)
    x = x.detach()
    if eps == 0:
        return x.clone()
    lower, upper = x - eps, x + eps
    if random_start:
        if generator is None:
            noise = torch.rand(x.shape, device=x.device)
        else:
            noise = torch.rand(x.shape, generator=generator,
                               device=generator.device)
        noise = noise.to(device=x.device, dtype=x.dtype)
        x_adv = x + (2 * noise - 1) * eps
        x_adv = torch.max(torch.min(x_adv, upper), lower).clamp_(0, 1)
    else:
        x_adv = x.clone()
    for _ in range(steps):
        grad = input_gradient(forward_fn, x_adv, labels)
        x_adv = x_adv + step_size * grad.sign()
        x_adv = torch.max(torch.min(x_adv, upper), lower).clamp_(0, 1)
    return x_adv
