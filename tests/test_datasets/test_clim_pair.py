import pytest
import torch
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

from mmmix.datasets import CLIMPairDataset
from mmmix.ops.positive_selection import PositiveTable, pool_table


class _Indexed(Dataset):
    """Item i: two 'views' holding i (and a random number: augmentation)."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        noise = float(torch.rand(()))
        views = [torch.full((1, 2, 2), float(i)), torch.full((1, 2, 2),
                                                              noise)]
        return dict(inputs=views,
                    data_samples=DataSample(metainfo=dict(sample_idx=i)))


def _collate(batch):
    return batch


def _table(shift, n=12, pool=3):
    idx = torch.arange(n)
    return pool_table(torch.stack([(idx + shift + t) % n
                                   for t in range(pool)], 1))


def test_item_layout_and_self_fallback():
    ds = CLIMPairDataset(_Indexed(), pool_size=3)
    item = ds[5]
    assert len(item['inputs']) == 4
    assert item['inputs'][0][0, 0, 0] == 5 and item['inputs'][2][0, 0, 0] == 5
    # the positive is the anchor itself, drawn again (another augmentation)
    assert item['inputs'][1][0, 0, 0] != item['inputs'][3][0, 0, 0]
    s = item['data_samples']
    assert s.pos_idx == 5 and s.has_pos is False and ds.version == 0


def test_positives_come_from_the_table():
    ds = CLIMPairDataset(_Indexed(), pool_size=3)
    ds.set_table(_table(1))
    assert ds.version == 1
    for i in range(12):
        item = ds[i]
        j = item['data_samples'].pos_idx
        assert j in {(i + 1) % 12, (i + 2) % 12, (i + 3) % 12}
        assert item['inputs'][2][0, 0, 0] == j
        assert item['data_samples'].has_pos
    torch.testing.assert_close(ds.table.members, _table(1).members)
    ds.clear_table()
    assert ds[3]['data_samples'].pos_idx == 3 and ds.version == 0


def test_persistent_workers_see_in_place_updates():
    ds = CLIMPairDataset(_Indexed(), pool_size=3)
    loader = DataLoader(ds, batch_size=4, num_workers=2,
                        persistent_workers=True, collate_fn=_collate)
    before = [s['data_samples'] for b in loader for s in b]
    assert all(s.pos_idx == s.sample_idx for s in before)
    workers = loader._iterator._workers if loader._iterator else None
    ds.set_table(_table(4, pool=1))  # positive of i: i + 4
    after = [s['data_samples'] for b in loader for s in b]
    if workers is not None:  # the same worker processes served both epochs
        assert loader._iterator._workers == workers
    assert all(s.pos_idx == (s.sample_idx + 4) % 12 and s.has_pos
               for s in after)


def test_bad_tables_are_refused():
    ds = CLIMPairDataset(_Indexed(), pool_size=2)
    with pytest.raises(ValueError, match='raise pool_size'):
        ds.set_table(_table(1, pool=3))
    bad = PositiveTable(torch.tensor([0, 99]), torch.zeros(12).long(),
                        torch.ones(12).long(), torch.full((12, ), -1))
    with pytest.raises(ValueError, match=r'index \[0, 12\)'):
        ds.set_table(bad)
    short = PositiveTable(torch.tensor([0]), torch.zeros(5).long(),
                          torch.ones(5).long(), torch.full((5, ), -1))
    with pytest.raises(ValueError, match='shape'):
        ds.set_table(short)
    with pytest.raises(ValueError, match='pool_size'):
        CLIMPairDataset(_Indexed(), pool_size=0)
