"""The OpenMMLab model index (``model-index.yml`` + ``configs/*/metafile.yml``)
that ``mim`` reads to find the configs."""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ZOO = (ROOT / 'model_zoo.md').read_text()


def load(path):
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def method_folders():
    """Folders of ``configs/`` that hold configs outside ``_base_``."""
    return sorted(d.name for d in (ROOT / 'configs').iterdir()
                  if d.is_dir() and d.name != '_base_'
                  and any(d.glob('*.py')))


def imported():
    return load(ROOT / 'model-index.yml')['Import']


def metafiles():
    return [ROOT / p for p in imported()]


def test_model_index_imports_every_metafile():
    imports = imported()
    assert len(imports) == len(set(imports))
    for path in imports:
        assert (ROOT / path).is_file(), path
    on_disk = sorted(p.relative_to(ROOT).as_posix()
                     for p in (ROOT / 'configs').glob('*/metafile.yml'))
    assert sorted(imports) == on_disk
    expected = [f'configs/{m}/metafile.yml' for m in method_folders()]
    assert sorted(imports) == sorted(expected)


@pytest.mark.parametrize('path', metafiles(), ids=lambda p: p.parent.name)
def test_metafile_is_valid(path):
    meta = load(path)
    assert set(meta) == {'Collections', 'Models'}
    collections = {}
    for coll in meta['Collections']:
        md = coll['Metadata']
        for key in ('Training Data', 'Training Techniques', 'Architecture'):
            assert md[key], (coll['Name'], key)
        assert coll['Paper']['Title']
        assert coll['Paper']['URL'].startswith('https://arxiv.org/abs/')
        assert (ROOT / coll['README']).is_file(), coll['README']
        collections[coll['Name']] = coll
    folder = path.parent.relative_to(ROOT).as_posix() + '/'
    for model in meta['Models']:
        name = model['Name']
        assert model['In Collection'] in collections, name
        assert 'Weights' not in model, name  # no checkpoint is published
        config = model['Config']
        assert config.startswith(folder), config
        assert (ROOT / config).is_file(), config
        assert Path(config).stem == name
        md = model['Metadata']
        for key in ('Epochs', 'Batch Size'):
            if key in md:
                assert isinstance(md[key], int) and md[key] > 0, (name, key)
        for result in model.get('Results', []):
            assert result['Task'] and result['Dataset']
            # only measured numbers: the config is in the model zoo and
            # every value is printed there
            assert config in ZOO, config
            for metric, value in result['Metrics'].items():
                assert isinstance(value, (int, float)), (name, metric)
                assert any(f'{value:.{d}f}' in ZOO for d in (1, 2, 3)), (
                    name, metric, value)


def test_model_names_are_unique():
    names = [m['Name'] for p in metafiles() for m in load(p)['Models']]
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, dup
    colls = [c['Name'] for p in metafiles() for c in load(p)['Collections']]
    assert len(colls) == len(set(colls))
