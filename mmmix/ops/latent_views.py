"""Views generated in a GAN's latent space ("On Assimilating Learned Views
in Contrastive Learning").

- :func:`truncate`: the truncation trick ``w_avg + psi (w - w_avg)``.
- :func:`w_perturb` (VG2): ``w + sigma * noise``, i.i.d. Gaussian or on the
  sphere of radius ``sigma sqrt(K')``.
- :func:`wsearch_loss` and :func:`w_search` (VG1): optimise ``n`` copies of
  each image's latent so that the generated views sit about ``eps1`` from
  the anchor in the normalised embedding of a frozen encoder and are on
  average at least ``eps2`` apart.
- :func:`expert_distances`: the mean anchor<->expert and expert<->expert
  embedding distances that calibrate ``eps1`` / ``eps2``.

Latents are W+ codes ``(B, L, D)``. The callables are plain functions of
tensors, so the truncation, the noise mode of the synthesis and the
encoder's input normalisation live in them, e.g.
``synthesis = lambda w: G.synthesis(truncate(w, G.w_avg, 0.7),
noise_mode='const')`` (truncation after the perturbation, as in the
reference code) and ``encoder = lambda x: model.neck(model.backbone(
prep(x)))`` with ``prep`` mapping ``[-1, 1]`` to the encoder's input.
"""
import contextlib
import functools
import inspect
import math
import numbers
import warnings
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

WSEARCH_FORMS = ('code', 'paper')
PERTURB_MODES = ('gauss', 'proj')
WSEARCH_ANCHORS = ('recon', 'orig')
WSEARCH_STOPS = ('batch', 'sample')


def _check_real(name: str, value, low: float = None) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f'{name} must be a real number, got {value!r}')
    if low is not None and not value >= low:
        raise ValueError(f'{name} must be >= {low}, got {value!r}')
    return float(value)


def _check_choice(name: str, value, choices: Tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f'{name} must be one of {choices}, got {value!r}')
    return value


def truncate(ws: torch.Tensor, w_avg: torch.Tensor,
             psi: float) -> torch.Tensor:
    """The truncation trick ``w_avg + psi (ws - w_avg)``.

    Args:
        ws (Tensor): latents ``(..., D)``, e.g. W+ codes ``(B, L, D)``.
        w_avg (Tensor): ``(D,)`` mean latent (broadcast over ``ws``).
        psi (float): truncation; 1 keeps ``ws``, 0 gives ``w_avg``.
    """
    psi = _check_real('psi', psi)
    if w_avg.shape[-1] != ws.shape[-1]:
        raise ValueError(f'w_avg must end with the latent width '
                         f'{ws.shape[-1]}, got shape {tuple(w_avg.shape)}')
    w_avg = w_avg.to(ws)
    return w_avg + psi * (ws - w_avg)


def w_perturb(ws: torch.Tensor,
              sigma: float,
              mode: str = 'gauss',
              generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """W-perturb: ``ws + noise`` (spec 4.4).

    Args:
        ws (Tensor): ``(B, ...)`` latents, one code per row, e.g. W+
            ``(B, L, D)``.
        sigma (float): ``>= 0``, the noise standard deviation.
        mode (str): ``'gauss'``: ``sigma * randn`` i.i.d. on every entry;
            ``'proj'``: the noise of each row, flattened to ``K'`` entries
            (``K' = L * D`` for W+), rescaled to the norm ``sigma sqrt(K')``
            (the expected norm of the Gaussian noise; the reference code's
            ``--bubble``).
        generator (torch.Generator, optional): on ``ws.device``.

    Returns:
        Tensor: the perturbed latents, shape and dtype of ``ws``.
    """
    sigma = _check_real('sigma', sigma, 0)
    _check_choice('mode', mode, PERTURB_MODES)
    noise = torch.randn(ws.shape, generator=generator, dtype=ws.dtype,
                        device=ws.device)
    if mode == 'gauss':
        return ws + sigma * noise
    if ws.dim() < 2:
        raise ValueError("mode='proj' needs ws of shape (B, ...) with one "
                         f'code per row, got shape {tuple(ws.shape)}')
    flat = noise.reshape(ws.shape[0], -1)
    radius = sigma * math.sqrt(flat.shape[1])
    flat = flat * (radius / torch.linalg.vector_norm(flat, dim=1,
                                                     keepdim=True))
    return ws + flat.reshape(ws.shape)


def wsearch_loss(h_views: torch.Tensor,
                 h_anchor: torch.Tensor,
                 eps1: float,
                 eps2: float,
                 lam: float,
                 form: str = 'code'
                 ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The W-search objective (spec 3.3 / 4.3) on given embeddings.

    With ``d_ij = ||h_views[i, j] - h_anchor[i]||_2`` and ``P_i`` the
    ``n x n`` pairwise distances of image ``i``'s views:

    - boundary: ``mean_ij (d_ij - eps1)^2``;
    - uniformity, ``form='code'`` (reference code, default): the mean over
      images and views of ``relu(eps2 - sum_k P_i[j, k] / (n - 1))``, the
      hinge on each view's mean distance to the other ``n - 1`` views;
    - uniformity, ``form='paper'`` (Eq. 3): the mean over images of
      ``relu(eps2 - mean_{j != k} P_i[j, k])``, the hinge on the image's
      mean pairwise distance;
    - with ``n = 1`` there is no uniformity term (it is 0);
    - ``loss = boundary + lam * uniformity``, the mean of the per-image
      losses.

    Args:
        h_views (Tensor): ``(B, n, d)`` view embeddings (L2-normalised by
            :func:`w_search`; used as given here).
        h_anchor (Tensor): ``(B, d)`` anchor embeddings.
        eps1 (float): ``>= 0``, target anchor distance.
        eps2 (float): ``>= 0``, the uniformity hinge.
        lam (float): ``>= 0``, weight of the uniformity term.
        form (str): ``'code'`` or ``'paper'``.

    Returns:
        tuple: ``(loss, terms)``; ``terms`` holds ``boundary`` and
        ``uniformity`` (scalars, the latter unweighted), ``per_image``
        ``(B,)`` losses and ``anchor_dist`` ``(B, n)``.
    """
    eps1 = _check_real('eps1', eps1, 0)
    eps2 = _check_real('eps2', eps2, 0)
    lam = _check_real('lam', lam, 0)
    _check_choice('form', form, WSEARCH_FORMS)
    if h_views.dim() != 3 or h_anchor.shape != (h_views.shape[0],
                                                 h_views.shape[2]):
        raise ValueError('h_views must be (B, n, d) and h_anchor (B, d), '
                         f'got {tuple(h_views.shape)} and '
                         f'{tuple(h_anchor.shape)}')
    n = h_views.shape[1]
    dist = torch.linalg.vector_norm(h_views - h_anchor[:, None], dim=-1)
    boundary = ((dist - eps1)**2).mean(dim=1)
    if n > 1:
        # explicit differences (not cdist's matmul path): exact zeros on the
        # diagonal, whose norm has a zero (sub)gradient
        pair = torch.linalg.vector_norm(
            h_views[:, :, None] - h_views[:, None], dim=-1)
        if form == 'code':
            uniformity = F.relu(eps2 - pair.sum(-1) / (n - 1)).mean(dim=1)
        else:
            uniformity = F.relu(eps2 - pair.sum((1, 2)) / (n * (n - 1)))
    else:
        uniformity = torch.zeros_like(boundary)
    per_image = boundary + lam * uniformity
    terms = dict(boundary=boundary.mean(), uniformity=uniformity.mean(),
                 per_image=per_image, anchor_dist=dist)
    return per_image.mean(), terms


def _modules_of(fn) -> List[nn.Module]:
    """The module behind a callable: a module, its bound method, a partial."""
    if isinstance(fn, nn.Module):
        return [fn]
    if inspect.ismethod(fn) and isinstance(fn.__self__, nn.Module):
        return [fn.__self__]
    if isinstance(fn, functools.partial):
        return _modules_of(fn.func)
    return []


def _collect_modules(named_fns, modules: Iterable[nn.Module]):
    explicit = list(modules)
    found = list(explicit)
    for name, fn in named_fns:
        if not callable(fn):
            raise TypeError(f'{name} must be callable, got {type(fn)}')
        own = _modules_of(fn)
        if not own and not explicit:
            warnings.warn(
                f'{name} is not a module, a bound method of one or a '
                'partial of those: pass its modules with `modules=` so that '
                'they are frozen and in eval mode')
        found += own
    return found


@contextlib.contextmanager
def frozen_eval(modules: Iterable[nn.Module]):
    """Eval mode and ``requires_grad=False`` inside, both restored after."""
    modules = list(modules)
    saved = [(m, m.training, [(p, p.requires_grad) for p in m.parameters()])
             for m in modules]
    try:
        for m in modules:
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, training, flags in reversed(saved):
            m.train(training)
            for p, flag in flags:
                p.requires_grad_(flag)


def _embed(encoder: Callable, x: torch.Tensor) -> torch.Tensor:
    return F.normalize(encoder(x).flatten(1), dim=1)


def w_search(w0: torch.Tensor,
             synthesis: Callable[[torch.Tensor], torch.Tensor],
             encoder: Callable[[torch.Tensor], torch.Tensor],
             n_views: int,
             eps1: float,
             eps2: float,
             lam: float = 0.01,
             steps: int = 1000,
             lr: float = 0.01,
             init_noise: float = 0.001,
             tol: float = 1e-3,
             form: str = 'code',
             anchor: str = 'recon',
             x_orig: Optional[torch.Tensor] = None,
             stop: str = 'batch',
             generator: Optional[torch.Generator] = None,
             modules: Iterable[nn.Module] = ()
             ) -> Tuple[torch.Tensor, torch.Tensor, Dict]:
    """W-search (VG1, spec 4.3): ``n_views`` latents per image by Adam.

    Each image's latent is repeated ``n_views`` times; copies ``1..n-1``
    get ``init_noise * randn`` and copy 0 starts exactly at ``w0``. Adam
    (default betas) optimises the copies, and nothing else, on
    :func:`wsearch_loss` of the normalised embeddings
    ``normalize(encoder(clamp(synthesis(W), -1, 1)))`` against the anchor
    ``normalize(encoder(clamp(synthesis(w0), -1, 1)))`` (``'recon'``) or
    ``normalize(encoder(x_orig))`` (``'orig'``). The modules behind
    ``synthesis`` and ``encoder`` (or given in ``modules``) are in eval mode
    with ``requires_grad=False`` during the search, both restored after.

    Stops: at most ``steps`` Adam steps; the loss is evaluated before each
    step and the search stops when

    - ``stop='batch'`` (reference code): the batch loss is ``<= tol``, so
      the result depends on the batch composition;
    - ``stop='sample'``: every image's own loss is ``<= tol``. An image
      whose loss reached ``tol`` is frozen from then on: its gradient is
      masked and its latents are put back after each Adam step (whose
      momentum would still move them).

    Args:
        w0 (Tensor): ``(B, L, D)`` inverted latents.
        synthesis (callable): latents ``(N, L, D)`` -> images
            ``(N, C, H, W)`` in about ``[-1, 1]`` (clamped here).
        encoder (callable): images in ``[-1, 1]`` -> ``(N, d)`` embeddings
            (normalised here); includes the input normalisation.
        n_views (int): ``>= 1`` views per image.
        eps1 (float): ``>= 0``, target anchor distance.
        eps2 (float): ``>= 0``, uniformity hinge.
        lam (float): ``>= 0``, uniformity weight.
        steps (int): ``>= 0``, maximum Adam steps (0 returns the start).
        lr (float): ``> 0``, Adam learning rate.
        init_noise (float): ``>= 0``, std of the start noise of copies
            ``1..n-1``.
        tol (float): ``>= 0``, early-stop threshold of the loss.
        form (str): uniformity form, ``'code'`` or ``'paper'``.
        anchor (str): ``'recon'`` or ``'orig'`` (needs ``x_orig``).
        x_orig (Tensor, optional): ``(B, C, H, W)`` images in ``[-1, 1]``.
        stop (str): ``'batch'`` or ``'sample'``.
        generator (torch.Generator, optional): for the start noise, on
            ``w0.device``.
        modules (iterable of nn.Module): more modules to freeze, for
            callables that are lambdas.

    Returns:
        tuple: ``(views, ws, info)``: ``views`` ``(n, B, C, H, W)`` clamped
        to ``[-1, 1]``, ``ws`` ``(n, B, L, D)`` (detached), and ``info``
        with ``steps`` (Adam steps run), ``stop_step`` ``(B,)`` (steps each
        image ran), ``loss``, ``boundary``, ``uniformity`` (floats, of the
        returned views), ``per_image`` ``(B,)``, ``anchor_dist``
        ``(n, B)``, ``converged`` ``(B,)`` (per-image loss ``<= tol``) and
        ``history`` (the loss at each evaluation).
    """
    if w0.dim() != 3:
        raise ValueError(f'w0 must be (B, L, D), got {tuple(w0.shape)}')
    if (not isinstance(n_views, numbers.Integral) or isinstance(n_views, bool)
            or n_views < 1):
        raise ValueError(f'n_views must be an int >= 1, got {n_views!r}')
    if (not isinstance(steps, numbers.Integral) or isinstance(steps, bool)
            or steps < 0):
        raise ValueError(f'steps must be an int >= 0, got {steps!r}')
    lr = _check_real('lr', lr, 0)
    if lr <= 0:
        raise ValueError(f'lr must be > 0, got {lr!r}')
    init_noise = _check_real('init_noise', init_noise, 0)
    tol = _check_real('tol', tol, 0)
    for name, value in (('eps1', eps1), ('eps2', eps2), ('lam', lam)):
        _check_real(name, value, 0)
    _check_choice('form', form, WSEARCH_FORMS)
    _check_choice('anchor', anchor, WSEARCH_ANCHORS)
    _check_choice('stop', stop, WSEARCH_STOPS)
    num, n = w0.shape[0], n_views
    if anchor == 'orig' and (x_orig is None or x_orig.dim() != 4
                             or x_orig.shape[0] != num):
        raise ValueError(f"anchor='orig' needs x_orig of shape ({num}, C, "
                         'H, W), got '
                         f'{None if x_orig is None else tuple(x_orig.shape)}')
    loss_kw = dict(eps1=eps1, eps2=eps2, lam=lam, form=form)
    frozen = _collect_modules((('synthesis', synthesis),
                               ('encoder', encoder)), modules)

    def evaluate(ws):
        views = synthesis(ws).clamp(-1, 1)
        h = _embed(encoder, views).view(num, n, -1)
        return views, wsearch_loss(h, h_anchor, **loss_kw)

    with frozen_eval(frozen):
        with torch.no_grad():
            x_anchor = (synthesis(w0).clamp(-1, 1)
                        if anchor == 'recon' else x_orig)
            h_anchor = _embed(encoder, x_anchor)
        start = w0.detach().repeat_interleave(n, dim=0)
        noise = init_noise * torch.randn(
            start.shape, generator=generator, dtype=start.dtype,
            device=start.device)
        noise.view(num, n, *start.shape[1:])[:, 0] = 0
        ws = (start + noise).requires_grad_(True)
        opt = torch.optim.Adam([ws], lr=lr)
        active = torch.ones(num, dtype=torch.bool, device=w0.device)
        stop_step = torch.zeros(num, dtype=torch.long, device=w0.device)
        history = []
        steps_run = 0
        for _ in range(steps):
            _, (loss, terms) = evaluate(ws)
            # The early-stop test is part of the algorithm, so it syncs with
            # the host once per step (as the reference's `loss.item()`).
            history.append(float(loss.detach()))
            if stop == 'batch':
                if history[-1] <= tol:
                    break
            else:
                active &= terms['per_image'].detach() > tol
                if not bool(active.any()):
                    break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if stop == 'sample':
                keep = active.repeat_interleave(n)
                ws.grad[~keep] = 0
                before = ws.detach().clone()
                opt.step()
                with torch.no_grad():
                    ws[~keep] = before[~keep]
                stop_step += active.long()
            else:
                opt.step()
                stop_step += 1
            steps_run += 1
        with torch.no_grad():
            views, (loss, terms) = evaluate(ws)
    shape = (num, n)
    info = dict(
        steps=steps_run,
        stop_step=stop_step,
        loss=float(loss),
        boundary=float(terms['boundary']),
        uniformity=float(terms['uniformity']),
        per_image=terms['per_image'],
        anchor_dist=terms['anchor_dist'].T.contiguous(),
        converged=terms['per_image'] <= tol,
        history=history)
    views = views.view(*shape, *views.shape[1:]).transpose(0, 1)
    ws = ws.detach().view(*shape, *ws.shape[1:]).transpose(0, 1)
    return views.contiguous(), ws.contiguous(), info


def expert_distances(encoder: Callable[[torch.Tensor], torch.Tensor],
                     images: torch.Tensor,
                     transform_fn: Callable[[torch.Tensor], torch.Tensor],
                     n_pairs: int = 1,
                     batch_size: int = 256,
                     modules: Iterable[nn.Module] = ()) -> Dict[str, float]:
    """Mean embedding distances that calibrate ``eps1`` / ``eps2``.

    For each image ``x`` and each of ``n_pairs`` rounds, two expert views
    ``t1(x)``, ``t2(x)`` are drawn with ``transform_fn``; with ``h`` the
    L2-normalised embeddings, ``anchor_expert`` is the mean of
    ``||h(x) - h(t1 x)||`` and ``||h(x) - h(t2 x)||`` (the suggested
    ``eps1``) and ``expert_expert`` the mean of ``||h(t1 x) - h(t2 x)||``
    (a reference for ``eps2``). All distances are in ``[0, 2]``. The
    encoder's modules run in eval mode under ``no_grad`` (BN running
    statistics are not updated), their mode restored after.

    Args:
        encoder (callable): images -> ``(N, d)`` embeddings, e.g. backbone +
            projector of a pretrained SimCLR model.
        images (Tensor): ``(N, C, H, W)`` anchors in the encoder's input
            space.
        transform_fn (callable): a batch ``(b, C, H, W)`` -> an augmented
            batch of the same size, random on every call.
        n_pairs (int): ``>= 1`` rounds of ``(t1, t2)`` per image.
        batch_size (int): ``>= 1`` images per encoder call.
        modules (iterable of nn.Module): the encoder's modules when it is a
            lambda.

    Returns:
        dict: ``anchor_expert``, ``expert_expert`` and their standard
        deviations ``anchor_expert_std``, ``expert_expert_std`` (floats),
        and ``num_pairs`` (int, ``N * n_pairs``).
    """
    for name, value in (('n_pairs', n_pairs), ('batch_size', batch_size)):
        if (not isinstance(value, numbers.Integral)
                or isinstance(value, bool) or value < 1):
            raise ValueError(f'{name} must be an int >= 1, got {value!r}')
    if images.dim() != 4 or images.shape[0] < 1:
        raise ValueError('images must be (N, C, H, W) with N >= 1, got '
                         f'{tuple(images.shape)}')
    frozen = _collect_modules((('encoder', encoder), ), modules)
    d01, d12 = [], []
    with frozen_eval(frozen), torch.no_grad():
        for _ in range(n_pairs):
            for i in range(0, images.shape[0], batch_size):
                x = images[i:i + batch_size]
                h0 = _embed(encoder, x)
                h1 = _embed(encoder, transform_fn(x))
                h2 = _embed(encoder, transform_fn(x))
                d01 += [(h0 - h1).norm(dim=1), (h0 - h2).norm(dim=1)]
                d12.append((h1 - h2).norm(dim=1))
    d01 = torch.cat(d01).double()
    d12 = torch.cat(d12).double()
    single = d12.numel() < 2
    return dict(
        anchor_expert=float(d01.mean()),
        expert_expert=float(d12.mean()),
        anchor_expert_std=float(d01.std()),
        expert_expert_std=0.0 if single else float(d12.std()),
        num_pairs=int(d12.numel()))
