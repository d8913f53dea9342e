import os.path as osp

import numpy as np
import pytest

from mmmix.datasets import FashionMNIST, read_idx
from mmmix.datasets.fashion_mnist import DEBIAN_FASHION_MNIST
from tests.conftest import write_fashion_mnist, write_idx


@pytest.mark.parametrize('compress', [True, False])
def test_reads_gzipped_and_extracted_idx(tmp_path, compress):
    (xtr, ytr), (xte, yte) = write_fashion_mnist(str(tmp_path),
                                                 compress=compress)
    train = FashionMNIST(data_root=str(tmp_path), split='train')
    test = FashionMNIST(data_root=str(tmp_path), split='test')
    assert len(train) == len(xtr) and len(test) == len(xte)
    np.testing.assert_array_equal(train.get_data_info(5)['img'], xtr[5])
    assert train.get_data_info(5)['gt_label'] == ytr[5]
    # split='test' reads the t10k files even without test_mode
    np.testing.assert_array_equal(test.get_data_info(3)['img'], xte[3])
    assert test.get_gt_labels().tolist() == yte.tolist()


def test_missing_files_name_the_package(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        FashionMNIST(data_root=str(tmp_path))
    msg = str(e.value)
    assert 'dataset-fashion-mnist' in msg and 'apt-get' in msg
    assert 'train-images-idx3-ubyte.gz' in msg


def test_truncated_idx_is_reported(tmp_path):
    path = str(tmp_path / 'x.idx')
    write_idx(path, np.zeros((4, 28, 28), np.uint8), compress=False)
    with open(path, 'r+b') as f:
        f.truncate(100)
    with pytest.raises(ValueError, match='truncated'):
        read_idx(path)
    with open(path, 'wb') as f:
        f.write(b'\x01\x02\x03\x04')
    with pytest.raises(ValueError, match='not an IDX file'):
        read_idx(path)


def test_bad_split_names_the_field(tmp_path):
    write_fashion_mnist(str(tmp_path))
    with pytest.raises(AssertionError, match='split'):
        FashionMNIST(data_root=str(tmp_path), split='val')


@pytest.mark.skipif(
    not osp.isfile(
        osp.join(DEBIAN_FASHION_MNIST, 't10k-labels-idx1-ubyte.gz')),
    reason='Debian package dataset-fashion-mnist not installed')
def test_real_fashion_mnist_files():
    test = FashionMNIST(split='test')
    assert len(test) == 10000
    assert np.bincount(test.get_gt_labels()).tolist() == [1000] * 10
    assert test.get_data_info(0)['img'].shape == (28, 28)
