import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmpretrain.structures import DataSample

from mmmix.evaluation import RetrievalRecall
from mmmix.ops import map_at_r, recall_at_k
from mmmix.registry import METRICS


def random_set(seed, n=60, d=8, classes=6):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, classes, (n, ),
                                                         generator=g)


def data_sample(emb, label, **metainfo):
    sample = DataSample(metainfo=metainfo).set_gt_label(int(label))
    sample.set_field(emb, 'embedding')
    return sample


def samples(emb, labels, is_query=None):
    out = []
    for i, (e, y) in enumerate(zip(emb, labels)):
        s = dict(embedding=e, gt_label=torch.tensor([int(y)]))
        if is_query is not None:
            s['is_query'] = bool(is_query[i])
        out.append(s)
    return out


def test_metric_matches_ops_and_is_registered():
    emb, labels = random_set(0)
    metric = METRICS.build(dict(type='RetrievalRecall', topk=(1, 2, 4, 8)))
    assert isinstance(metric, RetrievalRecall)
    all_samples = samples(emb, labels)
    metric.process(None, all_samples[:25])
    metric.process(None, all_samples[25:])
    res = metric.evaluate(60)
    assert set(res) == {f'retrieval/R@{k}'
                        for k in (1, 2, 4, 8)} | {'retrieval/MAP@R'}
    ref = recall_at_k(emb, labels, (1, 2, 4, 8))
    for k, v in ref.items():
        assert res[f'retrieval/R@{k}'] == pytest.approx(100 * v)
    assert res['retrieval/MAP@R'] == pytest.approx(100 * map_at_r(emb,
                                                                  labels))
    assert 0 <= res['retrieval/R@1'] <= res['retrieval/R@8'] <= 100


def test_metric_without_map_and_prefix_and_data_samples():
    emb, labels = random_set(1)
    metric = RetrievalRecall(topk=3, map_at_r=False, prefix='cub')
    # DataSample objects are accepted too (converted to dicts)
    metric.process(None, [data_sample(e, y) for e, y in zip(emb, labels)])
    res = metric.evaluate(60)
    assert list(res) == ['cub/R@3']
    assert res['cub/R@3'] == pytest.approx(
        100 * recall_at_k(emb, labels, 3)[3])


def test_query_gallery_mode():
    emb, labels = random_set(2, n=80)
    is_query = torch.arange(80) % 3 == 0
    metric = RetrievalRecall(topk=(1, 10, 20), query_gallery=True)
    metric.process(None, samples(emb[:40], labels[:40], is_query[:40]))
    # as the evaluator passes them: DataSample.to_dict(), is_query metainfo
    metric.process(None, [
        data_sample(e, y, is_query=bool(q)).to_dict()
        for e, y, q in zip(emb[40:], labels[40:], is_query[40:])
    ])
    res = metric.evaluate(80)
    q, g = is_query, ~is_query
    ref = recall_at_k(emb[q], labels[q], (1, 10, 20), emb[g], labels[g])
    for k, v in ref.items():
        assert res[f'retrieval/R@{k}'] == pytest.approx(100 * v)
    assert res['retrieval/MAP@R'] == pytest.approx(
        100 * map_at_r(emb[q], labels[q], emb[g], labels[g]))
    # different from retrieving within the whole set
    assert res != RetrievalRecall(topk=(1, 10, 20)).compute_metrics(
        [(e, int(y), None) for e, y in zip(emb, labels)])


def test_missing_fields_and_bad_settings():
    emb, labels = random_set(3, n=10)
    metric = RetrievalRecall()
    with pytest.raises(KeyError, match="'embedding'"):
        metric.process(None, [dict(gt_label=torch.tensor([0]))])
    with pytest.raises(KeyError, match="'gt_label'"):
        metric.process(None, [dict(embedding=emb[0])])
    with pytest.raises(ValueError, match='gt_label'):
        metric.process(None, [dict(embedding=emb[0],
                                   gt_label=torch.tensor([]))])
    qg = RetrievalRecall(query_gallery=True)
    with pytest.raises(KeyError, match="'is_query'.*query_gallery=True"):
        qg.process(None, samples(emb, labels))
    qg.process(None, samples(emb, labels, [True] * 10))
    with pytest.raises(ValueError, match='both query and gallery'):
        qg.evaluate(10)
    # K larger than the set: a clear error from recall_at_k
    small = RetrievalRecall(topk=(1, 16))
    small.process(None, samples(emb, labels))
    with pytest.raises(ValueError, match='ks=16 exceeds'):
        small.evaluate(10)
    for bad in [(0, ), (1.0, ), (), (True, )]:
        with pytest.raises(ValueError, match='topk'):
            RetrievalRecall(topk=bad)
    with pytest.raises(ValueError, match='max_r'):
        RetrievalRecall(max_r=0)


def _dist_worker(rank, world, init_file, out):
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world)
    emb, labels = random_set(4, n=41)
    # DefaultSampler-like interleaved shards, padded to equal length
    idx = list(range(41)) + [0]
    shard = idx[rank::world]
    metric = RetrievalRecall(topk=(1, 2, 4))
    metric.process(None, samples(emb[shard], labels[shard]))
    res = metric.evaluate(41)
    torch.save(res, f'{out}.{rank}')
    dist.destroy_process_group()


def test_collects_results_across_processes(tmp_path):
    out = str(tmp_path / 'res')
    mp.spawn(_dist_worker, nprocs=2, args=(2, str(tmp_path / 'init'), out))
    r0, r1 = torch.load(f'{out}.0'), torch.load(f'{out}.1')
    assert r0 == r1  # broadcast to every process
    emb, labels = random_set(4, n=41)
    single = RetrievalRecall(topk=(1, 2, 4))
    single.process(None, samples(emb, labels))
    assert r0 == pytest.approx(single.evaluate(41))
