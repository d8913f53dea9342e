import hashlib
import os.path as osp

import numpy as np
import pytest
from mmengine.dataset import BaseDataset, ConcatDataset

from mmmix.datasets import (
    FashionMNIST,
    check_fingerprint,
    dataset_fingerprint,
    save_raw_images,
    verify_dataset,
)
from mmmix.datasets.fingerprint import check_indices, raw_image
from tests.conftest import make_fashion_like, write_fashion_mnist


class ArrayDataset(BaseDataset):
    """In-memory images (``img`` in the data info), for tests."""

    def __init__(self, images, pipeline=(), **kwargs):
        self._images = np.asarray(images)
        super().__init__(pipeline=list(pipeline), **kwargs)

    def load_data_list(self):
        return [dict(img=img, gt_label=0) for img in self._images]


def _sha1_of_array(img):
    # the documented format: dtype string, shape, then the bytes
    img = np.ascontiguousarray(img)
    return hashlib.sha1(f'{img.dtype.str}{img.shape}'.encode() +
                        img.tobytes()).hexdigest()


def test_fashion_fingerprint_fields(fashion_root):
    (xtr, _), _ = make_fashion_like()  # what the fixture wrote
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    fp = dataset_fingerprint(ds)
    assert fp['dataset'] == 'FashionMNIST'
    assert fp['num_samples'] == 120
    assert fp['img_shape'] == [28, 28] and fp['img_dtype'] == 'uint8'
    keys = sorted(int(k) for k in fp['checksums'])
    assert keys[0] == 0 and keys[-1] == 119
    assert len(keys) == 18  # 16 random + first + last (distinct here)
    for k in keys:
        assert fp['checksums'][str(k)] == _sha1_of_array(xtr[k])
    # deterministic, and the pipeline is never run
    ds_piped = FashionMNIST(data_root=fashion_root,
                            pipeline=[dict(type='PackInputs')])
    assert dataset_fingerprint(ds_piped) == fp
    check_fingerprint(fp, dataset_fingerprint(ds_piped))


def test_check_indices_include_ends_and_are_seeded():
    a = check_indices(1000, 16, seed=0)
    assert a == check_indices(1000, 16, seed=0)
    assert a != check_indices(1000, 16, seed=1)
    assert 0 in a and 999 in a and 16 <= len(a) <= 18
    assert check_indices(1, 16) == [0]
    assert check_indices(5, 16) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match='empty'):
        check_indices(0)


def test_mismatches_name_fields_with_both_values(fashion_root, tmp_path):
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    fp = dataset_fingerprint(ds)
    subset = FashionMNIST(data_root=fashion_root, pipeline=[],
                          indices=list(range(100)))
    with pytest.raises(ValueError) as e:
        verify_dataset(fp, subset, what='feature bank X')
    msg = str(e.value)
    assert 'feature bank X' in msg
    assert 'num_samples: stored 120 vs current 100' in msg
    # same length, other images: the checksums differ
    other_root = str(tmp_path / 'other')
    write_fashion_mnist(other_root, seed=1)
    other = FashionMNIST(data_root=other_root, pipeline=[])
    with pytest.raises(ValueError, match=r'checksum of item 0: stored') as e:
        verify_dataset(fp, other)
    assert fp['checksums']['0'][:12] in str(e.value)
    # one permuted pair: only the items it touches mismatch
    images = np.stack([raw_image(ds, i) for i in range(len(ds))])
    swapped = images.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    fp_arr = dataset_fingerprint(ArrayDataset(images))
    with pytest.raises(ValueError, match='checksum of item 0') as e:
        check_fingerprint(fp_arr, dataset_fingerprint(ArrayDataset(swapped)))
    assert 'dataset' not in str(e.value).split(':', 1)[1].split(';')[0]
    # the class name and the shape are compared too
    with pytest.raises(ValueError, match="dataset: stored 'FashionMNIST' vs "
                       "current 'ArrayDataset'"):
        check_fingerprint(fp, fp_arr)
    colour = dataset_fingerprint(ArrayDataset(np.zeros((3, 4, 4, 3),
                                                       np.uint8)))
    grey = dataset_fingerprint(ArrayDataset(np.zeros((3, 4, 4), np.uint8)))
    with pytest.raises(ValueError, match=r'img_shape: stored \[4, 4, 3\] vs '
                       r'current \[4, 4\]'):
        check_fingerprint(colour, grey)
    with pytest.raises(ValueError, match='no dataset fingerprint'):
        verify_dataset(None, ds)


def test_concat_dataset_is_refused(fashion_root):
    a = FashionMNIST(data_root=fashion_root, pipeline=[])
    b = FashionMNIST(data_root=fashion_root, split='test', pipeline=[])
    with pytest.raises(ValueError, match='sample_idx'):
        dataset_fingerprint(ConcatDataset([a, b]))


def test_file_dataset_hashes_file_bytes(image_folder):
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(data_root=image_folder, pipeline=[])
    fp = dataset_fingerprint(ds, num_checks=4)
    assert fp['img_shape'] == [32, 32, 3] and fp['img_dtype'] == 'uint8'
    last = len(ds) - 1
    with open(ds.get_data_info(last)['img_path'], 'rb') as f:
        assert fp['checksums'][str(last)] == hashlib.sha1(
            f.read()).hexdigest()
    assert osp.isfile(ds.get_data_info(0)['img_path'])


def test_save_raw_images_round_trip(fashion_root, tmp_path):
    (xtr, _), _ = make_fashion_like()
    ds = FashionMNIST(data_root=fashion_root, pipeline=[])
    path = str(tmp_path / 'raw.npy')
    assert save_raw_images(ds, path) == (120, 28, 28)
    np.testing.assert_array_equal(np.load(path), xtr)
    ragged = ArrayDataset(np.zeros((2, 4, 4), np.uint8))
    ragged._images = None
    ragged.data_list = [dict(img=np.zeros((4, 4), np.uint8)),
                        dict(img=np.zeros((5, 4), np.uint8))]
    ragged.serialize_data = False
    with pytest.raises(ValueError, match='share a shape'):
        save_raw_images(ragged, str(tmp_path / 'r.npy'))
