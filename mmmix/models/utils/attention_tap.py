"""Last-block attention tap for mmpretrain's ``VisionTransformer``.

mmpretrain's ``MultiheadAttention`` runs the fused
``scaled_dot_product_attention`` and never returns its weights. DoRA
(thesis Eq. 6.1-6.2, spec 3.7) needs the last block's queries, keys and the
[CLS] attention row, so :class:`LastBlockAttentionTap` recomputes them from
a ``forward_pre_hook`` on ``backbone.layers[-1].attn``, whose input is
exactly ``ln1(x)`` of the last block::

    qkv = attn.qkv(u).reshape(B, N, 3, h, dh).permute(2, 0, 3, 1, 4)
    q, k = qkv[0], qkv[1]                                 # (B, h, N, dh)
    cls_attn = softmax(q[:, :, :1] @ k^T * dh ** -0.5)    # (B, h, N)

Only the [CLS] query row is computed by default (N times cheaper than the
full ``(B, h, N, N)`` attention, which ``full_attention=True`` adds).
"""
import contextlib
from typing import Optional

import torch
from torch import nn

EXPECTED = ("an mmpretrain VisionTransformer-like backbone with "
            "'layers[-1].attn' having 'qkv' (nn.Linear), 'num_heads' and "
            "'head_dims' (mmpretrain.models.utils.MultiheadAttention)")


class LastBlockAttentionTap:
    """Capture q, k and the [CLS] attention row of a ViT's last block.

    A plain object, not an ``nn.Module``: storing it on a model adds no
    submodule, parameter or state-dict entry. Build it on the very backbone
    that runs, e.g. the teacher of an EMA pair (``CosineEMA`` deep-copies
    its module, so a tap on the student never sees the teacher)::

        tap = LastBlockAttentionTap(ema.module[0])   # registered
        ema.module[0](x)                             # or any forward
        tap.q, tap.k, tap.cls_attn                   # latest batch

        with LastBlockAttentionTap(backbone, register=False) as tap:
            backbone(x)                              # hooked only inside

    After each forward of the hooked block (while :attr:`enabled`) the
    attributes hold, for ``B`` images of ``N = n + 1`` tokens:

    * ``q``, ``k``: ``(B, h, N, dh)`` queries and keys ([CLS] first), in
      the dtype the model computes ``qkv`` in (fp16 under autocast);
    * ``cls_attn``: ``(B, h, N)`` float32 (float64 for a float64 model)
      [CLS] attention row ``A[:, :, 0, :]`` (sums to 1; ``[..., 1:]`` is
      DoRA's ``A^i[0, 1:]``, see :attr:`cls_patch_attn`), ``None`` for a
      backbone without a class token;
    * ``attn``: ``(B, h, N, N)`` full attention when ``full_attention``,
      else ``None``.

    The scale is ``attn.scale`` if the attention module has one, else
    ``head_dims ** -0.5``, the scale mmpretrain 1.2's ``MultiheadAttention``
    always uses (its ``qk_scale`` argument has no effect). Attention dropout
    is not applied (the teacher runs in eval mode). The attributes are not
    cleared when the tap is disabled or removed: they keep the last batch.
    A deep copy of a hooked backbone carries an inert copy of the hook, so
    tap an EMA copy with its own tap (as above).

    Args:
        backbone (nn.Module): mmpretrain ``VisionTransformer`` (or any module
            with ``layers[-1].attn`` of the same interface).
        full_attention (bool): Also store the full attention. Defaults to
            False.
        requires_grad (bool): Recompute with autograd (when grad is
            enabled); by default under ``torch.no_grad()``.
        enabled (bool): Initial :attr:`enabled` flag. Defaults to True.
        register (bool): Register the hook now. Defaults to True.

    Raises:
        TypeError: If ``backbone`` has no ``layers[-1].attn.qkv``.
    """

    def __init__(self,
                 backbone: nn.Module,
                 full_attention: bool = False,
                 requires_grad: bool = False,
                 enabled: bool = True,
                 register: bool = True):
        attn = self._find_attention(backbone)
        self.backbone = backbone
        self.module = attn
        self.num_heads = int(attn.num_heads)
        self.head_dims = int(attn.head_dims)
        scale = getattr(attn, 'scale', None)
        self.scale = float(self.head_dims**-0.5 if scale is None else scale)
        self.has_cls_token = bool(getattr(backbone, 'with_cls_token', True))
        self.num_extra_tokens = int(
            getattr(backbone, 'num_extra_tokens', int(self.has_cls_token)))
        self.full_attention = full_attention
        self.requires_grad = requires_grad
        self.enabled = enabled
        self._handle = None
        self.reset()
        if register:
            self.register()

    @staticmethod
    def _find_attention(backbone: nn.Module) -> nn.Module:
        layers = getattr(backbone, 'layers', None)
        try:
            attn = layers[-1].attn
        except (TypeError, IndexError, AttributeError, KeyError):
            raise TypeError(f'LastBlockAttentionTap expects {EXPECTED}; got '
                            f'{type(backbone).__name__}') from None
        if not (isinstance(getattr(attn, 'qkv', None), nn.Linear)
                and hasattr(attn, 'num_heads')
                and hasattr(attn, 'head_dims')):
            raise TypeError(f'LastBlockAttentionTap expects {EXPECTED}; got '
                            f'{type(backbone).__name__} whose last attention '
                            f'is {type(attn).__name__}')
        return attn

    # ---------------------------------------------------------------- hooks
    @property
    def registered(self) -> bool:
        """Whether the hook is currently registered."""
        return self._handle is not None

    def register(self) -> 'LastBlockAttentionTap':
        """Register the hook (idempotent: never twice). Returns self."""
        if self._handle is None:
            self._handle = self.module.register_forward_pre_hook(
                _TapHook(self), with_kwargs=True)
        return self

    def remove(self) -> None:
        """Remove the hook (no-op when not registered)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def reset(self) -> None:
        """Forget the stored tensors."""
        self.q: Optional[torch.Tensor] = None
        self.k: Optional[torch.Tensor] = None
        self.cls_attn: Optional[torch.Tensor] = None
        self.attn: Optional[torch.Tensor] = None

    def __enter__(self) -> 'LastBlockAttentionTap':
        """Register (if needed) and return the tap."""
        return self.register()

    def __exit__(self, *exc) -> None:
        """Remove the hook, even one registered before the ``with``."""
        self.remove()

    def _hook(self, module: nn.Module, args, kwargs) -> None:
        if not self.enabled:
            return None
        u = args[0] if args else kwargs.get('x')
        if self.requires_grad:
            self._compute(module, u)
        else:
            with torch.no_grad():
                self._compute(module, u)
        return None

    def _compute(self, module: nn.Module, u: torch.Tensor) -> None:
        nb, ntok, _ = u.shape
        qkv = module.qkv(u).reshape(nb, ntok, 3, self.num_heads,
                                    self.head_dims).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        self.q, self.k = q, k
        dtype = torch.float64 if q.dtype == torch.float64 else torch.float32
        with _no_autocast(q.device):
            qf, kf = q.to(dtype), k.to(dtype)
            if self.full_attention:
                attn = torch.softmax(qf @ kf.transpose(-1, -2) * self.scale,
                                     dim=-1)
                self.attn = attn
                cls_attn = attn[:, :, 0] if self.has_cls_token else None
            else:
                self.attn = None
                cls_attn = None
                if self.has_cls_token:
                    logits = (qf[:, :, :1] @ kf.transpose(-1, -2)).squeeze(2)
                    cls_attn = torch.softmax(logits * self.scale, dim=-1)
        self.cls_attn = cls_attn

    # ----------------------------------------------------------- shortcuts
    @property
    def cls_patch_attn(self) -> Optional[torch.Tensor]:
        """``(B, h, n)`` [CLS] row over the patches, ``A[:, :, 0, 1:]``."""
        if self.cls_attn is None:
            return None
        return self.cls_attn[..., self.num_extra_tokens:]

    @property
    def patch_q(self) -> Optional[torch.Tensor]:
        """``(B, h, n, dh)`` patch queries (extra tokens dropped)."""
        return None if self.q is None else self.q[:, :,
                                                  self.num_extra_tokens:]

    @property
    def patch_k(self) -> Optional[torch.Tensor]:
        """``(B, h, n, dh)`` patch keys (extra tokens dropped)."""
        return None if self.k is None else self.k[:, :,
                                                  self.num_extra_tokens:]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(heads={self.num_heads}, '
                f'head_dims={self.head_dims}, registered={self.registered}, '
                f'enabled={self.enabled}, '
                f'full_attention={self.full_attention})')


class _TapHook:
    """The registered hook: calls its tap; copies of it are inert.

    A deep copy (or pickle) of a hooked backbone, e.g. an EMA teacher built
    after the tap, must not write into the original tap: the copy's hook
    does nothing (tap the copy with its own :class:`LastBlockAttentionTap`).
    """

    def __init__(self, tap: Optional[LastBlockAttentionTap]):
        self.tap = tap

    def __call__(self, module, args, kwargs):
        if self.tap is not None:
            self.tap._hook(module, args, kwargs)
        return None

    def __deepcopy__(self, memo):
        return _TapHook(None)

    def __reduce__(self):
        return (_TapHook, (None, ))


def _no_autocast(device: torch.device):
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # device type without autocast support
        return contextlib.nullcontext()


AttentionTap = LastBlockAttentionTap
