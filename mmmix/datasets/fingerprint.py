"""Dataset identity: fingerprints and raw images of a dataset.

Offline artefacts indexed by ``sample_idx`` (LMA feature banks, kNN graphs,
generated-view caches) are only valid for the dataset they were built
from, in the same order. A fingerprint records what is cheap to check and
catches the usual mismatches: another split, a subset (``indices``), a
shuffled or re-ordered annotation file, other images. It holds the dataset
class name, its length ``N``, the shape and dtype of item 0 and sha1
checksums of the raw images of a fixed, seeded set of indices that always
contains ``0`` and ``N - 1``.

Raw images are read through ``dataset.get_data_info(i)``, without the
pipeline: the ``img`` array when the data info holds one (mmmix
``FashionMNIST``, mmpretrain ``CIFAR10``), else the bytes of the file at
``img_path`` (folder datasets; hashing the file needs no decoding).

Artefacts are keyed by ``results['sample_idx']``, which must be the
position in the dataset. mmengine's ``ConcatDataset`` and ``RepeatDataset``
pass the *inner* dataset's ``sample_idx`` on, so rows would collide (LMA
spec A24): :func:`dataset_fingerprint` refuses such datasets (it checks
that item ``i`` reports ``sample_idx == i``); build artefacts for the inner
dataset or use one dataset class covering all images.
"""
import hashlib
from typing import Dict, List, Optional

import numpy as np

FINGERPRINT_VERSION = 1


def _full_init(dataset) -> None:
    init = getattr(dataset, 'full_init', None)
    if callable(init) and not getattr(dataset, '_fully_initialized', True):
        init()


def _data_info(dataset, idx: int) -> dict:
    if not hasattr(dataset, 'get_data_info'):
        raise TypeError(f'{type(dataset).__name__} has no get_data_info: '
                        'fingerprints need an mmengine-style dataset')
    info = dataset.get_data_info(idx)
    if not isinstance(info, dict):
        raise TypeError(f'{type(dataset).__name__}.get_data_info({idx}) '
                        f'returned {type(info).__name__}, not a dict')
    return info


def _read_bytes(path: str) -> bytes:
    from mmengine.fileio import get
    return get(path)


def _raw_bytes(info: dict, idx: int) -> bytes:
    if info.get('img') is not None:
        img = np.ascontiguousarray(info['img'])
        head = f'{img.dtype.str}{img.shape}'.encode()
        return head + img.tobytes()
    if info.get('img_path') is not None:
        return _read_bytes(info['img_path'])
    raise KeyError(f'data info of item {idx} has neither "img" nor '
                   f'"img_path" (keys: {sorted(info)}): cannot read its raw '
                   'image')


def raw_image(dataset, idx: int) -> np.ndarray:
    """The raw image of item ``idx`` as the pipeline's first transform
    sees it: the data info's ``img`` array, or the file at ``img_path``
    decoded like mmcv's ``LoadImageFromFile`` (colour, BGR)."""
    info = _data_info(dataset, idx)
    if info.get('img') is not None:
        return np.asarray(info['img'])
    import mmcv
    return mmcv.imfrombytes(_raw_bytes(info, idx), flag='color')


def check_indices(num_samples: int, num_checks: int = 16,
                  seed: int = 0) -> List[int]:
    """The indices a fingerprint checks: ``num_checks`` seeded random
    positions plus ``0`` and ``N - 1``, sorted."""
    if num_samples < 1:
        raise ValueError(f'the dataset is empty (num_samples={num_samples})')
    if num_checks < 0:
        raise ValueError(f'num_checks must be >= 0, got {num_checks}')
    rng = np.random.default_rng(seed)
    picks = rng.choice(num_samples, size=min(num_checks, num_samples),
                       replace=False)
    return sorted({0, num_samples - 1, *(int(i) for i in picks)})


def dataset_fingerprint(dataset, num_checks: int = 16,
                        seed: int = 0) -> Dict:
    """A JSON-serialisable fingerprint of ``dataset`` (see module doc).

    Args:
        dataset: an mmengine ``BaseDataset`` (or anything with ``__len__``
            and ``get_data_info``). Its pipeline is not run.
        num_checks (int): random items to checksum besides the first and
            the last. Defaults to 16.
        seed (int): seed of their positions. Defaults to 0.

    Returns:
        dict: ``version``, ``dataset`` (class name), ``num_samples``,
        ``img_shape`` / ``img_dtype`` of item 0 (decoded for file-based
        datasets), ``num_checks``, ``seed`` and ``checksums``
        (``{str(index): sha1 hex}``).

    Raises:
        ValueError: the dataset is empty, or an item reports a
            ``sample_idx`` other than its position (dataset wrappers).
    """
    _full_init(dataset)
    n = len(dataset)
    idx = check_indices(n, num_checks, seed)
    checksums = {}
    for i in idx:
        info = _data_info(dataset, i)
        reported = info.get('sample_idx', i)
        if reported != i:
            raise ValueError(
                f'item {i} of {type(dataset).__name__} reports sample_idx='
                f'{reported}: results["sample_idx"] is not the position in '
                'this dataset (a ConcatDataset/RepeatDataset wrapper?), so '
                'rows indexed by it would not match; fingerprint the inner '
                'dataset or use one dataset over all images')
        checksums[str(i)] = hashlib.sha1(_raw_bytes(info, i)).hexdigest()
    first = raw_image(dataset, 0)
    return dict(
        version=FINGERPRINT_VERSION,
        dataset=type(dataset).__name__,
        num_samples=int(n),
        img_shape=[int(s) for s in first.shape],
        img_dtype=str(first.dtype),
        num_checks=int(num_checks),
        seed=int(seed),
        checksums=checksums)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def check_fingerprint(stored: Dict, current: Dict,
                      what: str = 'view cache') -> None:
    """Raise if two fingerprints disagree.

    Compares the class name, ``num_samples``, ``img_shape``, ``img_dtype``
    and the checksums of the indices both hold.

    Raises:
        ValueError: naming every mismatching field with its stored and
            current values.
    """
    if not isinstance(stored, dict) or not isinstance(current, dict):
        raise TypeError('fingerprints must be dicts, got '
                        f'{type(stored).__name__} and '
                        f'{type(current).__name__}')
    problems = []
    for key in ('dataset', 'num_samples', 'img_shape', 'img_dtype'):
        a, b = stored.get(key), current.get(key)
        if isinstance(a, tuple):
            a = list(a)
        if isinstance(b, tuple):
            b = list(b)
        if a != b:
            problems.append(f'{key}: stored {_short(a)} vs current '
                            f'{_short(b)}')
    sa, sb = stored.get('checksums') or {}, current.get('checksums') or {}
    common = sorted(set(sa) & set(sb), key=int)
    bad = [k for k in common if sa[k] != sb[k]]
    for k in bad[:5]:
        problems.append(f'checksum of item {k}: stored {sa[k][:12]} vs '
                        f'current {sb[k][:12]}')
    if len(bad) > 5:
        problems.append(f'... and {len(bad) - 5} more of the '
                        f'{len(common)} checked items')
    if not common and (sa or sb) and stored.get(
            'num_samples') == current.get('num_samples'):
        problems.append('checksums: no item checked in both (stored '
                        f'num_checks={stored.get("num_checks")}, seed='
                        f'{stored.get("seed")})')
    if problems:
        raise ValueError(f'{what} was built for another dataset: ' +
                         '; '.join(problems))


def verify_dataset(stored: Optional[Dict], dataset,
                   what: str = 'view cache') -> None:
    """Check ``dataset`` against a stored fingerprint, recomputing the
    checksums of the same items (the stored ``num_checks`` and ``seed``).

    Raises:
        ValueError: ``stored`` is missing, or a field mismatches.
    """
    if not stored:
        raise ValueError(f'{what} has no dataset fingerprint to check the '
                         'dataset against (it was built without one)')
    current = dataset_fingerprint(dataset,
                                  num_checks=stored.get('num_checks', 16),
                                  seed=stored.get('seed', 0))
    check_fingerprint(stored, current, what)


def save_raw_images(dataset, path: str) -> tuple:
    """Write the raw images of ``dataset`` (in order) to a ``.npy`` file.

    The array is ``(N, *img_shape)`` uint8, written row by row through a
    memmap, so a large dataset is never held in memory. This is the
    neighbour source of :class:`~mmmix.datasets.transforms.KNNReplace`.

    Returns:
        tuple: the array's shape.

    Raises:
        ValueError: the images differ in shape or are not uint8.
    """
    _full_init(dataset)
    n = len(dataset)
    if n < 1:
        raise ValueError('the dataset is empty')
    first = raw_image(dataset, 0)
    if first.dtype != np.uint8:
        raise ValueError(f'raw images must be uint8, item 0 is {first.dtype}')
    out = np.lib.format.open_memmap(path, mode='w+', dtype=np.uint8,
                                    shape=(n, *first.shape))
    out[0] = first
    for i in range(1, n):
        img = raw_image(dataset, i)
        if img.shape != first.shape:
            raise ValueError(f'item {i} has shape {img.shape}, item 0 '
                             f'{first.shape}: raw images must share a shape')
        out[i] = img
    out.flush()
    shape = out.shape
    del out
    return shape
