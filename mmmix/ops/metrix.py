"""Metrix (thesis ch. 4): mixup for deep metric learning.

A metric-learning loss of the generic form (eq. 4.3)

    l(a) = tau( sigma+( sum_x y rho+(s(a, x)) )
              + sigma-( sum_x (1 - y) rho-(s(a, x)) ) )

takes soft pair labels ``y`` in [0, 1] (eq. 4.9) once the positive and
negative sums are weighted by ``y`` and ``1 - y``. This module is the one
engine for that: :func:`mixing_pairs` draws the mixed examples (each
distinct ordered pair of different classes at most once) and the mask of
(anchor, mixed) terms, :func:`soft_labels` their labels, and
:func:`soft_label_loss` evaluates a pytorch-metric-learning loss with soft
labels, reading its hyper-parameters, distance and reducer from the PML
instance so the clean and the mixed terms share one geometry. With hard
0/1 labels it equals the PML loss (tested for every supported class).

Weighted exp-sums are evaluated in the log domain:
``log(1 + sum_k w_k e^{g_k}) = logsumexp([0, g_k + log w_k])`` over
``w_k > 0`` (PML's ``lmu.logsumexp``), so ``lam -> 0 / 1`` never evaluates
``log 0`` and an empty sum is 0.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning.distances import CosineSimilarity, LpDistance

#: PML loss classes in the generic form, as the thesis's Table 4.1 maps
#: them (``GeneralizedLiftedStructureLoss`` is the lifted structure loss of
#: Hermans et al.; ``ProxyNCALoss(softmax_scale=1/T)`` is ProxyNCA++).
SUPPORTED_LOSSES = ('ContrastiveLoss', 'MultiSimilarityLoss',
                    'GeneralizedLiftedStructureLoss', 'NCALoss',
                    'ProxyAnchorLoss', 'ProxyNCALoss')
PAIR_LOSSES = SUPPORTED_LOSSES[:4]
PROXY_LOSSES = SUPPORTED_LOSSES[4:]
PAIR_MODES = ('pos_neg', 'anc_neg', 'pos_pos', 'neg_neg')


def loss_kind(loss) -> str:
    """The supported PML class ``loss`` is, or a clear error."""
    name = type(loss).__name__
    for cls_name in SUPPORTED_LOSSES:
        if type(loss) is getattr(pml_losses, cls_name):
            return cls_name
    hint = ''
    if name == 'LiftedStructureLoss':
        hint = (' (the per-pair lifted structure loss of Oh Song et al. is '
                'not of the generic form; use GeneralizedLiftedStructureLoss)')
    raise ValueError(
        f'Metrix: loss {name} is not supported{hint}; supported losses '
        f'(eq. 4.3) are {", ".join(SUPPORTED_LOSSES)}')


# ---------------------------------------------------------------- pairs ----
def hardest_negatives(sim: torch.Tensor, labels: torch.Tensor,
                      k: int) -> torch.Tensor:
    """``(B, B)`` bool: ``[a, j]`` iff ``j`` is one of ``a``'s ``k`` negatives
    most similar to ``a`` (``sim`` is computed on clean embeddings; no
    gradient flows through the choice)."""
    neg = labels[:, None] != labels[None]
    n_neg = int(neg.sum(1).min()) if len(labels) else 0
    if k > n_neg:
        raise ValueError(f'Metrix: hard_k={k} exceeds the {n_neg} negatives '
                         'the anchor with the fewest has in this batch')
    score = sim.detach().masked_fill(~neg, float('-inf'))
    idx = score.topk(k, dim=1).indices
    return torch.zeros_like(neg).scatter_(1, idx, True)


def mixing_terms(labels: torch.Tensor, mode: str = 'pos_neg',
                 hard_k: Optional[int] = None,
                 sim: Optional[torch.Tensor] = None,
                 only_anchors_without_pos: bool = False):
    """:func:`mixing_pairs` as a sparse term list.

    Returns ``I, J`` (``(K,)``) and ``anchor, column`` (``(T,)``): term
    ``t`` scores mixed example ``column[t]`` against anchor ``anchor[t]``.
    Positive-negative and anchor-negative terms over all negatives are
    enumerated directly (a 20 x 5 batch has 38,000 / 9,500 of them), the
    other cases through the dense mask.
    """
    if mode not in PAIR_MODES:
        raise ValueError(f'Metrix: pair mode must be one of {PAIR_MODES}, '
                         f'got {mode!r}')
    if hard_k is not None or only_anchors_without_pos or mode not in (
            'pos_neg', 'anc_neg'):
        i_idx, j_idx, mask = _dense_mixing_pairs(
            labels, mode, hard_k, sim, only_anchors_without_pos)
        a_idx, k_idx = mask.nonzero(as_tuple=True)
        return i_idx, j_idx, a_idx, k_idx
    same = labels[:, None] == labels[None]
    i_idx, j_idx = (~same).nonzero(as_tuple=True)     # sorted by i, then j
    if mode == 'anc_neg':
        k = torch.arange(len(i_idx), device=labels.device)
        return i_idx, j_idx, i_idx, k
    # pos-neg: anchor a with positive i meets every (i, j) column, i.e. the
    # contiguous block of row i; rows of anchor-less i are dropped
    b = labels.numel()
    n_neg = (~same).sum(1)
    pos = same & ~torch.eye(b, dtype=torch.bool, device=labels.device)
    keep_row = pos.any(1)
    keep_col = keep_row[i_idx]
    i_idx, j_idx = i_idx[keep_col], j_idx[keep_col]
    n_kept = torch.where(keep_row, n_neg, torch.zeros_like(n_neg))
    row_start = torch.cumsum(n_kept, 0) - n_kept
    a_p, i_p = pos.nonzero(as_tuple=True)
    counts = n_kept[i_p]
    a_idx = torch.repeat_interleave(a_p, counts)
    first = torch.repeat_interleave(row_start[i_p], counts)
    offset = torch.arange(len(a_idx), device=labels.device) - \
        torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    return i_idx, j_idx, a_idx, first + offset


def mixing_pairs(labels: torch.Tensor, mode: str = 'pos_neg',
                 hard_k: Optional[int] = None,
                 sim: Optional[torch.Tensor] = None,
                 only_anchors_without_pos: bool = False
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixed examples and the (anchor, mixed) terms of one batch.

    Returns ``I, J`` (``(K,)``: mixed example ``k`` is
    ``mix_lam(x_I[k], x_J[k])``) and ``mask`` (``(B, K)`` bool: anchor
    ``a`` sees mixed example ``k``). Each ordered pair appears once and
    only pairs some anchor uses are kept (so input mixup forwards no more
    than needed):

    * ``'pos_neg'``: ``I`` a positive of ``a`` (not ``a``), ``J`` a negative
      (eq. 4.11); ``'anc_neg'``: ``I = a``, ``J`` a negative;
    * ``'pos_pos'``: two distinct positives of ``a``; ``'neg_neg'``: two
      negatives of ``a`` of different classes (ablations).

    ``hard_k`` keeps, for each anchor, only ``J`` among its ``k`` hardest
    negatives (needs ``sim``, the clean ``(B, B)`` similarities);
    ``only_anchors_without_pos`` restricts ``'anc_neg'`` to anchors with no
    positive in the batch (the official code's choice, spec A4).
    """
    i_idx, j_idx, a_idx, k_idx = mixing_terms(
        labels, mode, hard_k, sim, only_anchors_without_pos)
    mask = torch.zeros(labels.numel(), len(i_idx), dtype=torch.bool,
                       device=labels.device)
    mask[a_idx, k_idx] = True
    return i_idx, j_idx, mask


def _dense_mixing_pairs(labels, mode, hard_k, sim,
                        only_anchors_without_pos):
    b = labels.numel()
    same = labels[:, None] == labels[None]
    eye = torch.eye(b, dtype=torch.bool, device=labels.device)
    pos = same & ~eye
    hard = None
    if hard_k is not None:
        if sim is None:
            raise ValueError('Metrix: hard_k needs the clean similarities')
        hard = hardest_negatives(sim, labels, hard_k)
        hard_t = hard.t().contiguous()     # [j, a]: j is a hard neg of a
    # candidate ordered pairs (i, j) and the (a, i, j) rule, as (B, B, B)
    # bool tensors would be B^3; build per mode from (B, B) factors instead
    if mode in ('pos_neg', 'anc_neg'):
        cand = ~same                                   # c_i != c_j
    elif mode == 'pos_pos':
        cand = pos
    else:
        cand = ~same
    i_idx, j_idx = cand.nonzero(as_tuple=True)
    # masks are built as (K, B) row gathers of the symmetric (B, B)
    # relations (column gathers of (B, B) are several times slower) and
    # returned transposed
    if mode == 'pos_neg':
        # a ~ i (a != i) and j a (hard) negative of a: j is then a negative
        # of a because c_i = c_a != c_j
        mask_t = pos[i_idx]
        if hard is not None:
            mask_t = mask_t & hard_t[j_idx]
    elif mode == 'anc_neg':
        mask_t = eye[i_idx]
        if hard is not None:
            mask_t = mask_t & hard_t[j_idx]
        if only_anchors_without_pos:
            mask_t = mask_t & ~pos.any(1)[None]
    elif mode == 'pos_pos':
        mask_t = pos[i_idx] & pos[j_idx]
    else:
        mask_t = ~same[i_idx] & ~same[j_idx]
        if hard is not None:
            mask_t = mask_t & hard_t[i_idx] & hard_t[j_idx]
    used = mask_t.any(1)
    return i_idx[used], j_idx[used], mask_t[used].t()


def sample_lam(alpha: float, k: int, lam_mode: str = 'batch',
               device=None) -> torch.Tensor:
    """``lam ~ Beta(alpha, alpha)``: one for the batch (a 0-d tensor) or
    one per mixed example (``(k,)``)."""
    beta = torch.distributions.Beta(torch.tensor(float(alpha)),
                                    torch.tensor(float(alpha)))
    lam = beta.sample(() if lam_mode == 'batch' else (k, ))
    return lam.to(device)


def soft_labels(anchor_labels: torch.Tensor, labels: torch.Tensor,
                i_idx: torch.Tensor, j_idx: torch.Tensor,
                lam) -> torch.Tensor:
    """``(A, K)`` labels of mixed examples relative to anchors of class
    ``anchor_labels``: ``lam [c = c_i] + (1 - lam) [c = c_j]``.

    This one rule gives ``lam`` for positive-negative and anchor-negative
    mixes, 1 for positive-positive and 0 for negative-negative ones, and
    the two-hot class vector when the anchors are class proxies.
    """
    lam = torch.as_tensor(lam, dtype=torch.get_default_dtype(),
                          device=labels.device)
    ci, cj = labels[i_idx], labels[j_idx]
    hit_i = (anchor_labels[:, None] == ci[None]).to(lam.dtype)
    hit_j = (anchor_labels[:, None] == cj[None]).to(lam.dtype)
    return lam * hit_i + (1 - lam) * hit_j


def mix(x: torch.Tensor, i_idx: torch.Tensor, j_idx: torch.Tensor,
        lam) -> torch.Tensor:
    """``lam x[i] + (1 - lam) x[j]`` (``lam`` a scalar or one per row)."""
    lam = torch.as_tensor(lam, dtype=x.dtype, device=x.device)
    if lam.dim():
        lam = lam.view(-1, *([1] * (x.dim() - 1)))
    return torch.lerp(x[j_idx], x[i_idx], lam)


def mixed_unit_similarity_terms(emb: torch.Tensor, i_idx: torch.Tensor,
                                j_idx: torch.Tensor, lam,
                                a_idx: torch.Tensor,
                                k_idx: torch.Tensor) -> torch.Tensor:
    """Cosine similarities ``(T,)`` of anchors ``emb[a_idx]`` to the
    re-normalised embedding mixes ``k_idx``, from the ``(B, B)`` Gram
    matrix alone.

    For unit vectors ``<z_a, z_i> = G[a, i]`` and
    ``|lam z_i + (1 - lam) z_j|^2 = lam^2 + (1 - lam)^2 + 2 lam (1 - lam)
    G[i, j]``, so no ``(K, d)`` tensor is formed: ``O(T)`` after the Gram
    matrix instead of ``O(T d)``.
    """
    lam = torch.as_tensor(lam, dtype=emb.dtype, device=emb.device)
    if lam.dim():
        lam = lam[k_idx]
    unit = F.normalize(emb, dim=1)   # exact gradients, like PML's distance
    gram = unit @ unit.t()
    i_t, j_t = i_idx[k_idx], j_idx[k_idx]
    num = lam * gram[a_idx, i_t] + (1 - lam) * gram[a_idx, j_t]
    sq = lam ** 2 + (1 - lam) ** 2 + 2 * lam * (1 - lam) * gram[i_t, j_t]
    return num * sq.clamp_min(1e-12).rsqrt()


def gram_trick_applies(loss) -> bool:
    """Whether :func:`mixed_unit_similarity_terms` gives ``loss.distance``
    of the mixed embeddings (cosine or L2 distance on normalised
    embeddings)."""
    dist = getattr(loss, 'distance', None)
    if not getattr(dist, 'normalize_embeddings', False):
        return False
    if type(dist) is CosineSimilarity:
        return True
    return type(dist) is LpDistance and dist.p == 2 and dist.power in (1, 2)


def unit_similarity_to_distance(loss, sim: torch.Tensor) -> torch.Tensor:
    """``loss.distance`` values of unit vectors with cosine ``sim``."""
    dist = loss.distance
    if type(dist) is CosineSimilarity:
        return sim
    sq = (2 - 2 * sim).clamp_min(0)
    return sq if dist.power == 2 else torch.sqrt(sq.clamp_min(1e-12))


# ----------------------------------------------------------------- loss ----
def segment_log_weighted_sum(g: torch.Tensor, w: torch.Tensor,
                             seg: torch.Tensor, n: int,
                             add_one: bool) -> torch.Tensor:
    """Per segment ``log([1 +] sum w e^g)`` over ``w > 0`` (0 where a
    segment has none), PML's ``lmu.logsumexp(g + log w, keep_mask=w > 0,
    add_one)`` for ragged rows.

    ``g``, ``w``, ``seg`` are ``(T,)``: term values, weights and segment
    (anchor) ids in ``[0, n)``. The max shift is detached, which leaves the
    value and the gradient exact.
    """
    keep = w > 0
    x = g + torch.log(torch.where(keep, w, torch.ones_like(w)))
    x = torch.where(keep, x, torch.full_like(x, float('-inf')))
    init = 0.0 if add_one else float('-inf')
    m = x.new_full((n, ), init).scatter_reduce(
        0, seg, x.detach(), 'amax', include_self=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    total = x.new_zeros(n).index_add(0, seg, torch.exp(x - m[seg]))
    if add_one:
        total = total + torch.exp(-m)
    any_keep = torch.zeros(n, dtype=torch.bool, device=g.device).index_fill(
        0, seg[keep], True)
    out = m + torch.log(torch.where(any_keep, total, torch.ones_like(total)))
    return torch.where(any_keep, out, torch.zeros_like(out))


def pair_terms_loss_dict(loss, kind: str, values: torch.Tensor,
                         y: torch.Tensor, anchor: torch.Tensor,
                         n_anchors: int) -> dict:
    """PML-style loss dict of a pair-based loss from sparse terms.

    ``values`` ``(T,)`` are ``loss.distance`` values of (anchor, mixed)
    terms, ``y`` their soft labels and ``anchor`` their anchor ids. Only
    the ``T`` terms that enter the sums are touched (a positive-negative
    batch of 20 x 5 has 38,000 of them, not 100 x 9,500).
    """
    dist = loss.distance
    w_pos, w_neg = y, 1 - y
    anchors = torch.arange(n_anchors, device=values.device)
    if kind == 'ContrastiveLoss':
        # additive: per-pair losses weighted by y and 1 - y, reduced by the
        # loss's own reducer over the pairs that enter each sum
        out = {}
        for name, w, rho, rtype in (
                ('pos_loss', w_pos,
                 F.relu(dist.margin(values, loss.pos_margin)), 'pos_pair'),
                ('neg_loss', w_neg,
                 F.relu(dist.margin(loss.neg_margin, values)), 'neg_pair')):
            keep = w > 0
            idx = keep.nonzero().squeeze(1)
            out[name] = dict(losses=w[keep] * rho[keep],
                             indices=(anchor[keep], idx),
                             reduction_type=rtype)
        return out
    if kind == 'MultiSimilarityLoss':
        pos = segment_log_weighted_sum(
            loss.alpha * dist.margin(values, loss.base), w_pos, anchor,
            n_anchors, True) / loss.alpha
        neg = segment_log_weighted_sum(
            loss.beta * dist.margin(loss.base, values), w_neg, anchor,
            n_anchors, True) / loss.beta
        return dict(loss=dict(losses=pos + neg, indices=anchors,
                              reduction_type='element'))
    if kind == 'GeneralizedLiftedStructureLoss':
        pos = segment_log_weighted_sum(dist.margin(values, loss.pos_margin),
                                       w_pos, anchor, n_anchors, False)
        neg = segment_log_weighted_sum(dist.margin(loss.neg_margin, values),
                                       w_neg, anchor, n_anchors, False)
        return dict(loss=dict(losses=F.relu(pos + neg), indices=anchors,
                              reduction_type='element'))
    # NCALoss: -log sum_k y_k softmax_k over the anchor's terms
    logits = loss.softmax_scale * (values if dist.is_inverted else -values)
    denom = segment_log_weighted_sum(logits, torch.ones_like(logits), anchor,
                                     n_anchors, False)
    num = segment_log_weighted_sum(logits, w_pos, anchor, n_anchors, False)
    keep = torch.zeros(n_anchors, dtype=torch.bool,
                       device=values.device).index_fill(
                           0, anchor[w_pos > 0], True)
    return dict(loss=dict(losses=(denom - num)[keep], indices=anchors[keep],
                          reduction_type='element'))


def reduce_loss_dict(loss, loss_dict: dict, emb: torch.Tensor,
                     labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Reduce with the loss's own reducer (empty parts are PML's zero)."""
    if labels is None:
        labels = torch.zeros(len(emb), dtype=torch.long, device=emb.device)
    for value in loss_dict.values():
        if value['losses'].numel() == 0:
            value['losses'] = 0     # PML's "no terms": a zero loss, no NaN
    return loss.reducer(loss_dict, emb, labels)


def soft_label_loss(loss, anchors: Optional[torch.Tensor],
                    refs: Optional[torch.Tensor], y: torch.Tensor,
                    support: Optional[torch.Tensor] = None,
                    mat: Optional[torch.Tensor] = None,
                    anchor_labels: Optional[torch.Tensor] = None
                    ) -> torch.Tensor:
    """A PML loss of the generic form evaluated with soft labels (eq. 4.9).

    Pair-based losses (contrastive, multi-similarity, generalized lifted
    structure, NCA): ``anchors`` ``(A, d)`` are scored against ``refs``
    ``(K, d)`` with ``loss.distance`` (or ``mat`` ``(A, K)`` given
    directly), ``y`` ``(A, K)`` are the labels and ``support`` ``(A, K)``
    the terms that enter the sums.

    Proxy losses: the anchors of ProxyAnchor are its proxies and ``y`` is
    ``(K, C)`` (mixed example x class); ``support`` chooses the proxies
    that see each mixed example. For ProxyNCA the mixed examples are the
    anchors, scored against all proxies (PML's softmax denominator) with
    their soft class labels ``y`` ``(K, C)``.

    The result is reduced by the loss's own reducer; with 0/1 labels it
    equals the PML loss.
    """
    kind = loss_kind(loss)
    if support is None:
        support = torch.ones_like(y, dtype=torch.bool)
    if support.shape != y.shape:
        raise ValueError(f'Metrix: support {tuple(support.shape)} and '
                         f'labels {tuple(y.shape)} differ in shape')
    device = y.device
    if kind in PAIR_LOSSES:
        if mat is None:
            mat = loss.distance(anchors, refs)
        if mat.shape != y.shape:
            raise ValueError(f'Metrix: similarities {tuple(mat.shape)} and '
                             f'labels {tuple(y.shape)} differ in shape')
        a_idx, k_idx = support.nonzero(as_tuple=True)
        loss_dict = pair_terms_loss_dict(
            loss, kind, mat[a_idx, k_idx], y.to(mat.dtype)[a_idx, k_idx],
            a_idx, mat.shape[0])
        emb = anchors if anchors is not None else mat
    elif kind == 'ProxyAnchorLoss':
        # the proxies are the anchors: segments are classes, terms the
        # (mixed example, proxy) pairs in the support
        loss.cast_types(refs.dtype, device)
        k_idx, c_idx = support.nonzero(as_tuple=True)
        cos = loss.get_logits(refs)[k_idx, c_idx]
        y_t = y.to(cos.dtype)[k_idx, c_idx]
        dist, n_cls = loss.distance, loss.proxies.shape[0]
        pos = segment_log_weighted_sum(
            loss.alpha * dist.margin(cos, loss.margin), y_t, c_idx, n_cls,
            True)
        neg = segment_log_weighted_sum(
            loss.alpha * dist.margin(-loss.margin, cos), 1 - y_t, c_idx,
            n_cls, True)
        idx = torch.arange(n_cls, device=device)
        with_pos = torch.zeros(n_cls, dtype=torch.bool,
                               device=device).index_fill(
                                   0, c_idx[y_t > 0], True)
        loss_dict = dict(
            pos_loss=dict(losses=pos, indices=idx, reduction_type='element',
                          divisor=int(with_pos.sum())),
            neg_loss=dict(losses=neg, indices=idx, reduction_type='element',
                          divisor=n_cls))
        emb = refs
    else:  # ProxyNCALoss: the mixed example is the anchor of NCA terms
        loss.cast_types(refs.dtype, device)
        k_idx, c_idx = support.nonzero(as_tuple=True)
        dmat = loss.distance(refs, loss.proxies)[k_idx, c_idx]
        loss_dict = pair_terms_loss_dict(
            loss, 'NCALoss', dmat, y.to(dmat.dtype)[k_idx, c_idx], k_idx,
            len(refs))
        emb = refs
    return reduce_loss_dict(loss, loss_dict, emb, anchor_labels)
