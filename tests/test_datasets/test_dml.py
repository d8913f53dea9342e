"""Zero-shot DML datasets on tiny copies of each archive's layout."""
import os
import os.path as osp

import numpy as np
import pytest

from mmmix.datasets import (
    CUB200DML,
    SOPDML,
    Cars196DML,
    FashionMNISTZeroShot,
    InShopDML,
)
from mmmix.datasets.fashion_mnist import DEBIAN_FASHION_MNIST
from mmmix.registry import DATASETS
from tests.conftest import write_fashion_mnist


def _write(path, lines):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _labels(ds):
    return [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]


# ----------------------------------------------------------------- CUB-200
CUB_CLASSES = (1, 2, 100, 101, 150, 200)  # both halves, their edges
CUB_PER_CLASS = 3


@pytest.fixture
def cub_root(tmp_path):
    import cv2
    root = tmp_path / 'CUB_200_2011'
    images, labels, split = [], [], []
    img_id = 0
    rng = np.random.default_rng(0)
    # write classes in a shuffled image order, as the remap must sort ids
    for cls in (150, 1, 200, 101, 2, 100):
        for k in range(CUB_PER_CLASS):
            img_id += 1
            rel = f'{cls:03d}.Bird_{cls}/Bird_{cls}_{k}.jpg'
            images.append(f'{img_id} {rel}')
            labels.append(f'{img_id} {cls}')
            split.append(f'{img_id} {img_id % 2}')
            if cls == 1 and k == 0:  # one real image for a pipeline load
                os.makedirs(root / 'images' / osp.dirname(rel))
                cv2.imwrite(str(root / 'images' / rel),
                            rng.integers(0, 255, (20, 24, 3), np.uint8))
    _write(str(root / 'images.txt'), images)
    _write(str(root / 'image_class_labels.txt'), labels)
    _write(str(root / 'train_test_split.txt'), split)  # must be ignored
    return str(root)


def test_cub_class_ranges_and_remap(cub_root):
    train = CUB200DML(data_root=cub_root, split='train')
    test = CUB200DML(data_root=cub_root, split='test')
    # all images of each half, train_test_split.txt ignored
    assert len(train) == 3 * CUB_PER_CLASS
    assert len(test) == 3 * CUB_PER_CLASS
    paths = [train.get_data_info(i)['img_path'] for i in range(len(train))]
    # original ids 1, 2, 100 -> 0, 1, 2 (sorted by id, not file order)
    expect = {'001': 0, '002': 1, '100': 2}
    for path, label in zip(paths, _labels(train)):
        assert path.startswith(osp.join(cub_root, 'images'))
        assert expect[osp.basename(osp.dirname(path))[:3]] == label
    assert sorted(set(_labels(test))) == [0, 1, 2]
    test_dirs = {
        osp.basename(osp.dirname(test.get_data_info(i)['img_path']))
        for i in range(len(test))
    }
    train_dirs = {osp.basename(osp.dirname(p)) for p in paths}
    assert not test_dirs & train_dirs
    assert train.metainfo['classes'] == ('001.Bird_1', '002.Bird_2',
                                         '100.Bird_100')
    assert test.metainfo['classes'][0] == '101.Bird_101'


def test_cub_pipeline_load_and_registry(cub_root):
    ds = DATASETS.build(
        dict(
            type='CUB200DML',
            data_root=cub_root,
            split='train',
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='PackInputs')],
            indices=[0],
            test_mode=True))
    out = ds[0]
    assert tuple(out['inputs'].shape) == (3, 20, 24)
    assert out['data_samples'].gt_label.tolist() == [0]


def test_cub_lazy_init(cub_root):
    ds = CUB200DML(data_root=cub_root, split='test', lazy_init=True)
    assert not ds._fully_initialized
    assert len(ds) == 3 * CUB_PER_CLASS  # __len__ forces the full init


def test_cub_missing_files_and_bad_split(tmp_path, cub_root):
    with pytest.raises(FileNotFoundError) as e:
        CUB200DML(data_root=str(tmp_path / 'nowhere'))
    assert 'images.txt' in str(e.value)
    assert 'image_class_labels.txt' in str(e.value)  # the layout
    os.remove(osp.join(cub_root, 'image_class_labels.txt'))
    with pytest.raises(FileNotFoundError, match='image_class_labels.txt'):
        CUB200DML(data_root=cub_root)
    with pytest.raises(ValueError, match="'train', 'test'"):
        CUB200DML(data_root=cub_root, split='val')


# ----------------------------------------------------------------- Cars196
def _write_cars_mat(path, classes):
    from scipy.io import savemat
    dtype = [(k, 'O') for k in ('relative_im_path', 'bbox_x1', 'bbox_y1',
                                'bbox_x2', 'bbox_y2', 'class', 'test')]
    annos = np.zeros((1, len(classes)), dtype=dtype)
    for i, cls in enumerate(classes):
        annos[0, i] = (f'car_ims/{i + 1:06d}.jpg', np.uint8(3), np.uint8(4),
                       np.uint16(100), np.uint16(80), np.uint8(cls),
                       np.uint8(i % 2))
    names = np.empty((1, 196), dtype=object)
    names[0, :] = [f'Make Model {c}' for c in range(1, 197)]
    savemat(path, dict(annotations=annos, class_names=names))


def test_cars_mat_parsing_and_split(tmp_path):
    classes = [98, 1, 99, 196, 1, 50, 99, 120, 98]
    _write_cars_mat(str(tmp_path / 'cars_annos.mat'), classes)
    train = Cars196DML(data_root=str(tmp_path), split='train')
    test = Cars196DML(data_root=str(tmp_path), split='test')
    # both official splits (test flag 0 and 1) are used
    assert len(train) == 5 and len(test) == 4
    assert train.get_data_info(0)['img_path'] == osp.join(
        str(tmp_path), 'car_ims/000001.jpg')
    # train classes 1, 50, 98 -> 0, 1, 2 in file order 98, 1, 1, 50, 98
    assert _labels(train) == [2, 0, 0, 1, 2]
    # test classes 99, 120, 196 -> 0, 1, 2 in file order 99, 196, 99, 120
    assert _labels(test) == [0, 2, 0, 1]
    assert test.get_data_info(1)['img_path'].endswith('000004.jpg')
    assert train.metainfo['classes'] == ('Make Model 1', 'Make Model 50',
                                         'Make Model 98')
    assert test.metainfo['classes'] == ('Make Model 99', 'Make Model 120',
                                        'Make Model 196')


def test_cars_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='cars_annos.mat'):
        Cars196DML(data_root=str(tmp_path))
    from scipy.io import savemat
    savemat(str(tmp_path / 'cars_annos.mat'), dict(other=np.zeros(3)))
    with pytest.raises(ValueError, match='annotations'):
        Cars196DML(data_root=str(tmp_path))
    with pytest.raises(ValueError, match='valid splits'):
        Cars196DML(data_root=str(tmp_path), split='query')


# --------------------------------------------------------------------- SOP
SOP_HEADER = 'image_id class_id super_class_id path'


@pytest.fixture
def sop_root(tmp_path):
    _write(str(tmp_path / 'Ebay_train.txt'), [
        SOP_HEADER,
        '1 1 1 bicycle_final/111_0.JPG',
        '2 1 1 bicycle_final/111_1.JPG',
        '3 7 2 cabinet_final/777_0.JPG',
        '4 3 1 bicycle_final/333_0.JPG',
    ])
    _write(str(tmp_path / 'Ebay_test.txt'), [
        SOP_HEADER,
        '5 11320 3 chair_final/a_0.JPG',
        '6 11319 3 chair_final/b_0.JPG',
        '7 11320 3 chair_final/a_1.JPG',
    ])
    return str(tmp_path)


def test_sop_header_skipped_and_remap(sop_root):
    train = SOPDML(data_root=sop_root, split='train')
    test = SOPDML(data_root=sop_root, split='test')
    assert len(train) == 4 and len(test) == 3  # header not an image
    assert _labels(train) == [0, 0, 2, 1]
    assert _labels(test) == [1, 0, 1]
    assert train.get_data_info(2)['img_path'] == osp.join(
        sop_root, 'cabinet_final/777_0.JPG')
    assert train.metainfo['classes'] == ('1', '3', '7')
    assert not set(train.metainfo['classes']) & set(test.metainfo['classes'])


def test_sop_errors(tmp_path, sop_root):
    with pytest.raises(FileNotFoundError, match='Ebay_train.txt'):
        SOPDML(data_root=str(tmp_path / 'nowhere'))
    with pytest.raises(ValueError, match='valid splits'):
        SOPDML(data_root=sop_root, split='gallery')
    _write(osp.join(sop_root, 'Ebay_test.txt'), [SOP_HEADER, '1 x 1 a.JPG'])
    with pytest.raises(ValueError, match='integer'):
        SOPDML(data_root=sop_root, split='test')


# ----------------------------------------------------------------- In-Shop
INSHOP_ROWS = [
    ('img/WOMEN/Dresses/id_00000002/02_1_front.jpg', 'id_00000002', 'train'),
    ('img/WOMEN/Dresses/id_00000002/02_2_side.jpg', 'id_00000002', 'train'),
    ('img/MEN/Denim/id_00000080/01_1_front.jpg', 'id_00000080', 'train'),
    ('img/WOMEN/Tees/id_00000001/02_1_front.jpg', 'id_00000001', 'train'),
    ('img/WOMEN/Skirts/id_00000009/01_1_front.jpg', 'id_00000009', 'query'),
    ('img/WOMEN/Skirts/id_00000009/01_2_side.jpg', 'id_00000009', 'gallery'),
    ('img/MEN/Pants/id_00000005/01_1_front.jpg', 'id_00000005', 'gallery'),
    ('img/MEN/Pants/id_00000005/01_2_side.jpg', 'id_00000005', 'query'),
    ('img/MEN/Pants/id_00000005/01_3_back.jpg', 'id_00000005', 'gallery'),
    # an item only in the gallery (distractor) still shares the mapping
    ('img/MEN/Tees/id_00000007/01_1_front.jpg', 'id_00000007', 'gallery'),
]


@pytest.fixture
def inshop_root(tmp_path):
    # the official file pads columns with runs of spaces
    lines = [str(len(INSHOP_ROWS)), 'image_name item_id evaluation_status']
    lines += [f'{a:<60}{b:<20}{c}' for a, b, c in INSHOP_ROWS]
    _write(str(tmp_path / 'Eval' / 'list_eval_partition.txt'), lines)
    return str(tmp_path)


def test_inshop_train_skips_two_header_lines(inshop_root):
    train = InShopDML(data_root=inshop_root, split='train')
    assert len(train) == 4
    # items 1, 2, 80 -> 0, 1, 2
    assert _labels(train) == [1, 1, 2, 0]
    assert train.get_data_info(0)['img_path'] == osp.join(
        inshop_root, INSHOP_ROWS[0][0])
    assert train.metainfo['classes'] == ('id_00000001', 'id_00000002',
                                         'id_00000080')


def test_inshop_query_gallery_share_labels(inshop_root):
    def infos_of(ds):  # without mmengine's per-dataset sample_idx
        return [{k: v for k, v in ds.get_data_info(i).items()
                 if k != 'sample_idx'} for i in range(len(ds))]

    test = InShopDML(data_root=inshop_root, split='test')
    infos = infos_of(test)
    # query images first, then gallery images, each in file order
    assert [i['is_query'] for i in infos] == [True] * 2 + [False] * 4
    # items 5, 7, 9 -> 0, 1, 2 for query and gallery alike
    assert [i['gt_label'] for i in infos] == [2, 0, 2, 0, 0, 1]
    assert infos[0]['img_path'].endswith('id_00000009/01_1_front.jpg')
    assert infos[2]['img_path'].endswith('id_00000009/01_2_side.jpg')
    query = InShopDML(data_root=inshop_root, split='query')
    gallery = InShopDML(data_root=inshop_root, split='gallery')
    assert infos_of(query) == infos[:2]
    assert infos_of(gallery) == infos[2:]
    assert query.metainfo['classes'] == gallery.metainfo['classes'] == (
        'id_00000005', 'id_00000007', 'id_00000009')
    train = InShopDML(data_root=inshop_root, split='train')
    assert not set(train.metainfo['classes']) & set(test.metainfo['classes'])


def test_inshop_errors(tmp_path, inshop_root):
    with pytest.raises(FileNotFoundError) as e:
        InShopDML(data_root=str(tmp_path / 'nowhere'))
    assert 'Eval/list_eval_partition.txt' in str(e.value)
    with pytest.raises(ValueError, match="'query', 'gallery'"):
        InShopDML(data_root=inshop_root, split='val')
    path = osp.join(inshop_root, 'Eval', 'list_eval_partition.txt')
    rows = [' '.join(r) for r in INSHOP_ROWS]
    _write(path, ['image_name item_id evaluation_status'] + rows)
    with pytest.raises(ValueError, match='image count'):
        InShopDML(data_root=inshop_root)
    _write(path, ['3', 'image_name item_id evaluation_status'] + rows)
    with pytest.raises(ValueError, match='header says 3'):
        InShopDML(data_root=inshop_root)
    _write(path, ['1', 'image_name item_id evaluation_status', 'a.jpg i x'])
    with pytest.raises(ValueError, match="evaluation_status 'x'"):
        InShopDML(data_root=inshop_root)


# ----------------------------------------------------- Fashion-MNIST split
@pytest.fixture
def fm_root(tmp_path):
    write_fashion_mnist(
        str(tmp_path), num_train=200, num_test=100, num_classes=10)
    return str(tmp_path)


def test_fashion_zero_shot_split(fm_root):
    train = FashionMNISTZeroShot(data_root=fm_root, split='train')
    test = FashionMNISTZeroShot(data_root=fm_root, split='test')
    full_train = np.arange(200) % 10  # labels write_fashion_mnist wrote
    assert len(train) == 100 and len(test) == 50
    assert sorted(set(train.get_gt_labels())) == [0, 1, 2, 3, 4]
    assert sorted(set(test.get_gt_labels())) == [0, 1, 2, 3, 4]
    assert train.get_gt_labels().tolist() == full_train[
        full_train < 5].tolist()
    assert train.metainfo['classes'][0] == 'T-shirt/top'
    assert test.metainfo['classes'][0] == 'Sandal'  # class 5
    assert not set(train.metainfo['classes']) & set(test.metainfo['classes'])
    assert train.get_data_info(0)['img'].shape == (28, 28)


def test_fashion_zero_shot_custom_classes(fm_root):
    from mmmix.datasets import FashionMNIST
    full = FashionMNIST(data_root=fm_root, split='test')
    train = FashionMNISTZeroShot(
        data_root=fm_root, split='train', train_classes=[8, 1, 3])
    test = FashionMNISTZeroShot(
        data_root=fm_root, split='test', train_classes=[8, 1, 3],
        max_per_class=2)
    assert train.kept_classes == (1, 3, 8)
    assert test.kept_classes == (0, 2, 4, 5, 6, 7, 9)
    assert len(train) == 60
    assert np.bincount(test.get_gt_labels()).tolist() == [2] * 7
    # max_per_class keeps the first images of each class in file order
    first_zeros = np.flatnonzero(full.get_gt_labels() == 0)[:2]
    np.testing.assert_array_equal(test.get_data_info(0)['img'],
                                  full.get_data_info(first_zeros[0])['img'])
    assert test.get_data_info(0)['gt_label'] == 0
    # class 9 -> label 6
    assert test.get_data_info(len(test) - 1)['gt_label'] == 6


@pytest.mark.parametrize('bad', [(), list(range(10)), (0, 10), (-1, ),
                                 (1.0, 2), (True, ), 3, '01'])
def test_fashion_zero_shot_bad_classes(fm_root, bad):
    with pytest.raises(ValueError, match='train_classes'):
        FashionMNISTZeroShot(data_root=fm_root, train_classes=bad)


def test_fashion_zero_shot_bad_max_per_class(fm_root):
    with pytest.raises(ValueError, match='max_per_class'):
        FashionMNISTZeroShot(data_root=fm_root, max_per_class=0)


@pytest.mark.skipif(
    not osp.isfile(
        osp.join(DEBIAN_FASHION_MNIST, 't10k-labels-idx1-ubyte.gz')),
    reason='Debian package dataset-fashion-mnist not installed')
def test_real_fashion_zero_shot_counts():
    train = FashionMNISTZeroShot(split='train')
    test = FashionMNISTZeroShot(split='test')
    assert len(train) == 30000 and len(test) == 5000
    assert np.bincount(train.get_gt_labels()).tolist() == [6000] * 5
    assert np.bincount(test.get_gt_labels()).tolist() == [1000] * 5


# ------------------------------------------ real archives, when present
# Point these variables at the extracted archives (default: the usual
# OpenMMLab ``data/`` folders of the checkout) to check the standard counts.
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REAL = [
    ('CUB200DML', 'MMMIX_CUB_ROOT', 'data/CUB_200_2011', 'images.txt',
     dict(train=(5864, 100), test=(5924, 100))),
    ('Cars196DML', 'MMMIX_CARS_ROOT', 'data/cars196', 'cars_annos.mat',
     dict(train=(8054, 98), test=(8131, 98))),
    ('SOPDML', 'MMMIX_SOP_ROOT', 'data/Stanford_Online_Products',
     'Ebay_test.txt', dict(train=(59551, 11318), test=(60502, 11316))),
    ('InShopDML', 'MMMIX_INSHOP_ROOT', 'data/inshop',
     'Eval/list_eval_partition.txt',
     dict(train=(25882, 3997), query=(14218, 3985), gallery=(12612, 3985))),
]


@pytest.mark.parametrize('name,var,default,probe,counts', REAL,
                         ids=[r[0] for r in REAL])
def test_real_archive_counts(name, var, default, probe, counts):
    root = os.environ.get(var, osp.join(REPO, default))
    if not osp.isfile(osp.join(root, probe)):
        pytest.skip(f'{name}: no data (set {var})')
    for split, (num_images, num_classes) in counts.items():
        ds = DATASETS.build(dict(type=name, data_root=root, split=split))
        labels = ds.get_gt_labels()
        assert len(ds) == num_images, split
        if name != 'InShopDML':  # query/gallery: labels over both
            assert labels.max() + 1 == num_classes == len(set(labels))
        else:
            assert len(set(labels)) <= len(ds.metainfo['classes'])
            assert len(ds.metainfo['classes']) == num_classes
