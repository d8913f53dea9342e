"""Zero-shot deep-metric-learning (DML) datasets: disjoint train/test classes.

The standard DML protocol (Metrix spec §4, §8 A12/A13) trains on one half of
the classes and evaluates retrieval on the other half, so these are *not* the
classification splits of mmpretrain's ``CUB`` / ``StanfordCars``. Every
sample is ``dict(img_path=..., gt_label=...)`` with labels remapped to
``0..C-1`` within the split, in increasing order of the original class id.

Standard sizes of the official archives (checked by the tests when the data
is present):

============  ===========================  ==================================
dataset       train                        test
============  ===========================  ==================================
CUB-200-2011  classes 1-100: 5,864 images  classes 101-200: 5,924 images
Cars196       classes 1-98: 8,054 images   classes 99-196: 8,131 images
SOP           59,551 images, 11,318 cls    60,502 images, 11,316 classes
In-Shop       25,882 images, 3,997 items   14,218 query + 12,612 gallery,
                                           3,985 items
============  ===========================  ==================================
"""
import numbers
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.fileio import exists, get_local_path, join_path, list_from_file
from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.categories import FASHIONMNIST_CATEGORITES

from mmmix.registry import DATASETS

from .fashion_mnist import DEBIAN_FASHION_MNIST, FashionMNIST

__all__ = [
    'CUB200DML', 'Cars196DML', 'SOPDML', 'InShopDML', 'FashionMNISTZeroShot'
]


def _remap(class_ids: Iterable) -> Dict:
    """Map the sorted distinct ids to ``0..C-1``."""
    return {c: i for i, c in enumerate(sorted(set(class_ids)))}


class _ZeroShotDataset(BaseDataset):
    """Common part: split check, annotation-file check, class remapping.

    Subclasses set ``SPLITS``, ``ANN_FILE`` (relative to ``data_root``),
    ``LAYOUT`` (shown in errors) and implement :meth:`_load_split`, which
    returns ``(records, class_names)``: records are ``(relative image path,
    original class id, extra dict)`` and ``class_names`` maps an original id
    to a name (or is ``None`` to use ``str(id)``).
    """

    SPLITS: Tuple[str, ...] = ('train', 'test')
    ANN_FILE: str = ''
    LAYOUT: str = ''
    DEFAULT_IMG_PREFIX: str = ''

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 data_prefix: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if split not in self.SPLITS:
            raise ValueError(
                f'{type(self).__name__}: unknown split {split!r}; valid '
                f'splits are {", ".join(map(repr, self.SPLITS))}.')
        self.split = split
        if data_prefix is None:
            data_prefix = self.DEFAULT_IMG_PREFIX
        super().__init__(
            ann_file=self.ANN_FILE,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    def _ann_path(self, name: str) -> str:
        """Path of annotation file ``name`` (relative to ``data_root``);
        raises ``FileNotFoundError`` naming it and the expected layout."""
        path = join_path(self.data_root, name) if self.data_root else name
        if not exists(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {name!r} not found '
                f'(looked for {path!r}). Expected the layout of the official '
                f'archive under data_root:\n{self.LAYOUT}')
        return path

    def _load_split(self) -> Tuple[List[tuple], Optional[dict]]:
        raise NotImplementedError

    def _label_map(self, records: List[tuple]) -> Dict:
        return _remap(r[1] for r in records)

    def load_data_list(self) -> List[dict]:
        records, names = self._load_split()
        label_of = self._label_map(records)
        data_list = []
        for rel_path, class_id, extra in records:
            info = dict(
                img_path=join_path(self.img_prefix, rel_path),
                gt_label=label_of[class_id])
            info.update(extra)
            data_list.append(info)
        # classes given by the user (metainfo / classes) win
        if 'classes' not in self._metainfo:
            ids = sorted(label_of, key=label_of.get)
            names = names or {}
            self._metainfo['classes'] = tuple(
                str(names.get(c, c)) for c in ids)
        return data_list


def _split_lines(path: str, min_fields: int) -> List[Tuple[int, List[str]]]:
    """Non-blank lines of ``path`` split on whitespace, with line numbers."""
    out = []
    for lineno, line in enumerate(list_from_file(path), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < min_fields:
            raise ValueError(f'{path}:{lineno}: expected at least '
                             f'{min_fields} fields, got {line!r}')
        out.append((lineno, fields))
    return out


def _to_int(value: str, path: str, lineno: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f'{path}:{lineno}: expected an integer, got {value!r}') from None


@DATASETS.register_module()
class CUB200DML(_ZeroShotDataset):
    """CUB-200-2011 with the zero-shot DML split.

    Expected layout (the official ``CUB_200_2011.tgz`` extracted;
    ``data_root`` is the ``CUB_200_2011`` folder)::

        CUB_200_2011/
        ├── images.txt               # "<image_id> <folder>/<file>.jpg"
        ├── image_class_labels.txt   # "<image_id> <class_id>" (1..200)
        └── images/
            ├── 001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg
            └── ...

    Split rule: ``'train'`` is classes 1-100, ``'test'`` classes 101-200;
    all 11,788 images are used and ``train_test_split.txt`` (the
    classification split) is ignored. Class names are the image folders.

    Args:
        data_root (str): The ``CUB_200_2011`` folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        data_prefix (str, optional): Image folder, relative to
            ``data_root``. Defaults to ``'images'``.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``pipeline``, ``test_mode``, ``lazy_init``, ``indices``...).
    """

    ANN_FILE = 'images.txt'
    LABEL_FILE = 'image_class_labels.txt'
    DEFAULT_IMG_PREFIX = 'images'
    CLASS_RANGES = dict(train=(1, 100), test=(101, 200))
    LAYOUT = ('  images.txt              "<image_id> <folder>/<file>.jpg"\n'
              '  image_class_labels.txt  "<image_id> <class_id>"\n'
              '  images/<folder>/<file>.jpg')

    def _load_split(self):
        img_file = self._ann_path(self.ANN_FILE)
        label_file = self._ann_path(self.LABEL_FILE)
        paths = {}
        for lineno, (img_id, path, *_) in _split_lines(img_file, 2):
            paths[_to_int(img_id, img_file, lineno)] = path
        labels = {}
        for lineno, (img_id, cls, *_) in _split_lines(label_file, 2):
            labels[_to_int(img_id, label_file, lineno)] = _to_int(
                cls, label_file, lineno)
        missing = sorted(set(paths) - set(labels))
        if missing:
            raise ValueError(f'{label_file} has no label for image ids '
                             f'{missing[:10]} of {img_file}.')
        lo, hi = self.CLASS_RANGES[self.split]
        records, names = [], {}
        for img_id in sorted(paths):
            cls = labels[img_id]
            if lo <= cls <= hi:
                records.append((paths[img_id], cls, {}))
                folder = osp.dirname(paths[img_id])
                names.setdefault(cls, folder or str(cls))
        return records, names


@DATASETS.register_module()
class Cars196DML(_ZeroShotDataset):
    """Stanford Cars (Cars196) with the zero-shot DML split.

    Expected layout (``car_ims.tgz`` and ``cars_annos.mat`` of the official
    release, side by side in ``data_root``)::

        data_root/
        ├── cars_annos.mat   # annotations: (relative_im_path, bbox_x1,
        │                    #   bbox_y1, bbox_x2, bbox_y2, class, test)
        │                    # class_names: 196 names (optional here)
        └── car_ims/
            ├── 000001.jpg
            └── ...

    Split rule: ``'train'`` is classes 1-98, ``'test'`` classes 99-196, each
    with the images of both official splits (the ``test`` flag is ignored),
    16,185 images in all.

    Args:
        data_root (str): Folder with ``cars_annos.mat`` and ``car_ims/``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        data_prefix (str, optional): Folder the ``relative_im_path`` entries
            are relative to, relative to ``data_root``. Defaults to ``''``.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``.
    """

    ANN_FILE = 'cars_annos.mat'
    CLASS_RANGES = dict(train=(1, 98), test=(99, 196))
    LAYOUT = ('  cars_annos.mat  (field "annotations": relative_im_path, '
              'bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, test)\n'
              '  car_ims/000001.jpg ...')

    @staticmethod
    def _scalar(value):
        """Unwrap loadmat's nested 1x1 arrays into a Python scalar."""
        while isinstance(value, np.ndarray):
            if value.size != 1:
                raise ValueError(f'expected a scalar, got shape {value.shape}')
            value = value.reshape(-1)[0]
        return value.item() if isinstance(value, np.generic) else value

    def _load_split(self):
        from scipy.io import loadmat
        path = self._ann_path(self.ANN_FILE)
        with get_local_path(path) as local:
            mat = loadmat(local)
        if 'annotations' not in mat:
            raise ValueError(f'{path} has no "annotations" field; found '
                             f'{sorted(k for k in mat if k[0] != "_")}.')
        annos = np.asarray(mat['annotations']).reshape(-1)
        fields = annos.dtype.names or ()
        for key in ('relative_im_path', 'class'):
            if key not in fields:
                raise ValueError(f'{path}: "annotations" entries have no '
                                 f'{key!r} field (fields: {fields}).')
        names = {}
        if 'class_names' in mat:
            for i, name in enumerate(np.asarray(mat['class_names']).ravel()):
                names[i + 1] = str(self._scalar(name))
        lo, hi = self.CLASS_RANGES[self.split]
        records = []
        for entry in annos:
            cls = int(self._scalar(entry['class']))
            if lo <= cls <= hi:
                records.append(
                    (str(self._scalar(entry['relative_im_path'])), cls, {}))
        return records, names


@DATASETS.register_module()
class SOPDML(_ZeroShotDataset):
    """Stanford Online Products with the standard DML split.

    Expected layout (``Stanford_Online_Products.zip`` extracted;
    ``data_root`` is the ``Stanford_Online_Products`` folder)::

        Stanford_Online_Products/
        ├── Ebay_train.txt   # header "image_id class_id super_class_id path"
        ├── Ebay_test.txt    # then "1 1 1 bicycle_final/111085122871_0.JPG"
        ├── bicycle_final/111085122871_0.JPG
        └── ...

    Split rule: ``'train'`` reads ``Ebay_train.txt`` (classes 1-11,318),
    ``'test'`` reads ``Ebay_test.txt`` (classes 11,319-22,634); ``gt_label``
    is ``class_id`` remapped to ``0..C-1`` and class names are the original
    ``class_id`` as strings.

    Args:
        data_root (str): The ``Stanford_Online_Products`` folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        data_prefix (str, optional): Folder the listed paths are relative
            to, relative to ``data_root``. Defaults to ``''``.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``.
    """

    FILES = dict(train='Ebay_train.txt', test='Ebay_test.txt')
    LAYOUT = ('  Ebay_train.txt, Ebay_test.txt  (header "image_id class_id '
              'super_class_id path", then one image a line)\n'
              '  <super_class>_final/<file>.JPG')

    def __init__(self, data_root: str = '', split: str = 'train', **kwargs):
        self.ANN_FILE = self.FILES.get(split, '')
        super().__init__(data_root=data_root, split=split, **kwargs)

    def _load_split(self):
        path = self._ann_path(self.ANN_FILE)
        records = []
        for lineno, fields in _split_lines(path, 4):
            if lineno == 1 and fields[0] == 'image_id':
                continue  # header
            records.append(
                (fields[3], _to_int(fields[1], path, lineno), {}))
        return records, None


@DATASETS.register_module()
class InShopDML(_ZeroShotDataset):
    """DeepFashion In-Shop Clothes Retrieval with the standard DML split.

    Expected layout (``data_root`` is the benchmark folder, with ``img.zip``
    extracted so that the paths listed in the partition file exist)::

        data_root/
        ├── Eval/
        │   └── list_eval_partition.txt
        │         # line 1: number of images (52712)
        │         # line 2: "image_name item_id evaluation_status"
        │         # then "img/WOMEN/Dresses/id_00000002/02_1_front.jpg
        │         #       id_00000002 train"   (train / query / gallery)
        └── img/WOMEN/...

    If the images sit under ``Img/img/...`` (``Img/img.zip`` extracted in
    place), pass ``data_prefix='Img'``.

    Split rule (query -> gallery retrieval, Metrix spec §8 A13):

    - ``'train'``: the ``train`` images (25,882, 3,997 items), labels = item
      ids remapped to ``0..C-1``;
    - ``'test'``: the ``query`` images (14,218) followed by the ``gallery``
      images (12,612), each with ``is_query`` (bool);
    - ``'query'`` / ``'gallery'``: one of the two parts alone.

    Query and gallery share one remapping of the item ids (over the items of
    query and gallery together, 3,985), whichever of ``'test'``,
    ``'query'``, ``'gallery'`` is built, so labels match across them. Keep
    ``is_query`` in the packed samples with
    ``dict(type='PackInputs', meta_keys=(..., 'is_query'))``.

    Args:
        data_root (str): The benchmark folder.
        split (str): ``'train'``, ``'test'``, ``'query'`` or ``'gallery'``.
            Defaults to ``'train'``.
        data_prefix (str, optional): Folder the listed ``img/...`` paths are
            relative to, relative to ``data_root``. Defaults to ``''``.
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``.
    """

    SPLITS = ('train', 'test', 'query', 'gallery')
    ANN_FILE = 'Eval/list_eval_partition.txt'
    STATUSES = ('train', 'query', 'gallery')
    LAYOUT = ('  Eval/list_eval_partition.txt  (line 1: image count, line 2: '
              '"image_name item_id evaluation_status", then one image a line '
              'with status train/query/gallery)\n'
              '  img/<...>/<item_id>/<file>.jpg')

    def _read_partition(self) -> Dict[str, List[Tuple[str, str]]]:
        path = self._ann_path(self.ANN_FILE)
        lines = _split_lines(path, 1)
        # two header lines: the image count, then the column names
        if len(lines) < 2 or not lines[0][1][0].isdigit() or \
                lines[1][1][:1] != ['image_name']:
            raise ValueError(
                f'{path}: expected an image count on the first line and '
                '"image_name item_id evaluation_status" on the second.')
        parts = {s: [] for s in self.STATUSES}
        for lineno, fields in lines[2:]:
            if len(fields) < 3:
                raise ValueError(f'{path}:{lineno}: expected "image_name '
                                 f'item_id evaluation_status", got {fields}')
            img, item, status = fields[:3]
            if status not in parts:
                raise ValueError(f'{path}:{lineno}: unknown evaluation_status '
                                 f'{status!r} (expected one of '
                                 f'{self.STATUSES}).')
            parts[status].append((img, item))
        count = int(lines[0][1][0])
        total = sum(len(v) for v in parts.values())
        if count != total:
            raise ValueError(f'{path}: header says {count} images, found '
                             f'{total}.')
        return parts

    def _load_split(self):
        parts = self._read_partition()
        if self.split == 'train':
            records = [(img, item, {}) for img, item in parts['train']]
            self._items = [r[1] for r in records]
            return records, None
        # one label map for query and gallery, whatever part is built
        self._items = [item for status in ('query', 'gallery')
                       for _, item in parts[status]]
        statuses = (('query', 'gallery') if self.split == 'test' else
                    (self.split, ))
        records = [(img, item, dict(is_query=status == 'query'))
                   for status in statuses for img, item in parts[status]]
        return records, None

    def _label_map(self, records):
        return _remap(self._items)


def _check_classes(train_classes) -> Tuple[int, ...]:
    num = len(FASHIONMNIST_CATEGORITES)
    if isinstance(train_classes, numbers.Integral) or not isinstance(
            train_classes, Iterable) or isinstance(train_classes, str):
        raise ValueError('train_classes must be a sequence of class ids in '
                         f'0..{num - 1}, got {train_classes!r}')
    classes = list(train_classes)
    bad = [
        c for c in classes if isinstance(c, bool)
        or not isinstance(c, numbers.Integral) or not 0 <= c < num
    ]
    if bad:
        raise ValueError(f'train_classes must be ints in 0..{num - 1}; '
                         f'invalid: {bad!r}')
    classes = tuple(sorted({int(c) for c in classes}))
    if not classes or len(classes) == num:
        raise ValueError(
            f'train_classes must be a non-empty proper subset of 0..{num - 1}'
            f' (the test split takes the rest), got {train_classes!r}')
    return classes


@DATASETS.register_module()
class FashionMNISTZeroShot(FashionMNIST):
    """Fashion-MNIST with a zero-shot retrieval split of the 10 classes.

    Built on :class:`mmmix.datasets.FashionMNIST` (same IDX files, same
    layout; see there):

    - ``'train'``: the images of ``train_classes`` from the 60k training
      file (30,000 with the default classes);
    - ``'test'``: the images of the other classes from the 10k test file
      (5,000 with the default).

    Labels are remapped to ``0..C-1`` in increasing order of the original
    class; ``metainfo['classes']`` lists the kept class names.

    Args:
        data_root (str): Folder with the IDX files. Defaults to Debian's
            ``dataset-fashion-mnist`` location.
        split (str): ``'train'`` or ``'test'``.
        train_classes (Sequence[int]): training classes, a non-empty proper
            subset of ``0..9``. Defaults to ``(0, 1, 2, 3, 4)``.
        max_per_class (int, optional): keep only the first ``N`` images of
            each class (file order), for quick runs. Defaults to None (all).
        **kwargs: Other arguments of :class:`~mmmix.datasets.FashionMNIST`.
    """

    def __init__(self,
                 data_root: str = DEBIAN_FASHION_MNIST,
                 split: str = 'train',
                 train_classes: Sequence[int] = (0, 1, 2, 3, 4),
                 max_per_class: Optional[int] = None,
                 **kwargs):
        self.train_classes = _check_classes(train_classes)
        self.test_classes = tuple(
            c for c in range(len(FASHIONMNIST_CATEGORITES))
            if c not in self.train_classes)
        if max_per_class is not None and (
                isinstance(max_per_class, bool)
                or not isinstance(max_per_class, numbers.Integral)
                or max_per_class < 1):
            raise ValueError('max_per_class must be a positive int or None, '
                             f'got {max_per_class!r}')
        self.max_per_class = max_per_class
        super().__init__(data_root=data_root, split=split, **kwargs)

    @property
    def kept_classes(self) -> Tuple[int, ...]:
        """Original class ids of this split, in label order."""
        return self.train_classes if self.split == 'train' else \
            self.test_classes

    def load_data_list(self) -> List[dict]:
        kept = self.kept_classes
        label_of = {c: i for i, c in enumerate(kept)}
        counts = dict.fromkeys(kept, 0)
        data_list = []
        for info in super().load_data_list():
            cls = info['gt_label']
            if cls not in label_of:
                continue
            if self.max_per_class is not None and \
                    counts[cls] >= self.max_per_class:
                continue
            counts[cls] += 1
            data_list.append(dict(img=info['img'], gt_label=label_of[cls]))
        names = self._metainfo.get('classes')
        if names is not None and len(names) == len(FASHIONMNIST_CATEGORITES):
            self._metainfo['classes'] = tuple(names[c] for c in kept)
        return data_list
