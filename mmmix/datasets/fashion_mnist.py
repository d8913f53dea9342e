"""Fashion-MNIST from the original IDX files, gzipped or not."""
import gzip
import os.path as osp
from typing import List

import numpy as np
from mmpretrain.datasets import FashionMNIST as _MMPretrainFashionMNIST

from mmmix.registry import DATASETS

#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
INSTALL_HINT = ('apt-get update && apt-get install -y '
                '--no-install-recommends dataset-fashion-mnist')


def read_idx(path: str) -> np.ndarray:
    """Read an IDX (``.gz`` or raw) file of unsigned bytes into an array."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f'{path} is not an IDX file of unsigned bytes.')
    ndim = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise ValueError(f'{path} is truncated: header says {shape}, '
                         f'found {len(data) - offset} of {expected} bytes.')
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


@DATASETS.register_module()
class FashionMNIST(_MMPretrainFashionMNIST):
    """Fashion-MNIST read from local IDX files (``.gz`` or extracted).

    mmpretrain's ``FashionMNIST`` needs the extracted files and otherwise
    downloads them; this one reads the files as Zalando ships them, e.g. from
    Debian's ``dataset-fashion-mnist`` package, and never downloads.

    Args:
        data_root (str): Folder with ``{train,t10k}-{images-idx3,labels-idx1}
            -ubyte[.gz]``. Defaults to where Debian installs them.
        split (str): ``'train'`` (60k) or ``'test'`` (10k).
        indices (int | Sequence[int], optional): keep a subset, as in
            :class:`mmengine.dataset.BaseDataset`.
        **kwargs: Other arguments of mmpretrain's ``FashionMNIST``.
    """

    def __init__(self, data_root: str = DEBIAN_FASHION_MNIST,
                 split: str = 'train', **kwargs):
        kwargs['download'] = False
        super().__init__(data_root=data_root, split=split, **kwargs)

    def _find(self, name: str) -> str:
        root = self.data_prefix['root']
        for candidate in (name[:-3], name):
            path = osp.join(root, candidate)
            if osp.isfile(path):
                return path
        return None

    def _check_exists(self) -> bool:
        return all(
            self._find(f) for f, _ in self.train_list + self.test_list)

    def load_data_list(self) -> List[dict]:
        missing = [
            f for f, _ in self.train_list + self.test_list if not self._find(f)
        ]
        if missing:
            raise FileNotFoundError(
                f'Fashion-MNIST files missing in {self.data_prefix["root"]}: '
                f'{", ".join(missing)}. Install them with `{INSTALL_HINT}` '
                f'(they go to {DEBIAN_FASHION_MNIST}) or set data_root.')
        # mmpretrain picks files by ``test_mode``; users set ``split``.
        files = self.test_list if self.split == 'test' else self.train_list
        imgs = read_idx(self._find(files[0][0]))
        labels = read_idx(self._find(files[1][0])).astype(np.int64)
        if len(imgs) != len(labels):
            raise ValueError(f'{len(imgs)} images but {len(labels)} labels '
                             f'in {self.data_prefix["root"]}.')
        return [{'img': img, 'gt_label': int(label)}
                for img, label in zip(imgs, labels)]
