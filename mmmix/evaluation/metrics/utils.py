"""Helpers shared by the metrics."""
import torch


def to_int_label(label, missing: int = -1) -> int:
    """A ``gt_label`` (int, 0-d or 1-element tensor) as a Python int.

    Returns ``missing`` for None or an empty tensor.
    """
    if label is None:
        return missing
    if torch.is_tensor(label):
        if label.numel() == 0:
            return missing
        return int(label.reshape(-1)[0])
    return int(label)
