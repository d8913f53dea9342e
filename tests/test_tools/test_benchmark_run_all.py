import json
import subprocess
import sys
import textwrap

import pytest

from tests.test_tools.test_train_args import load_tool

GOOD = '''
import json
import sys

print('warming up')
extra = sys.argv[1:]
print(json.dumps(dict(step_ms=12.345678, ratio=1.23456, count=123456,
                      big=1234567.891, flag=True, none=None,
                      nested=dict(inner=0.000123456, deep=dict(x=2)),
                      sizes=[dict(b=1, ms=0.5), dict(b=2, ms=1.5)],
                      long=list(range(50)), args=extra)))
'''

FAILING = '''
import sys

print('partial output')
print('something went wrong in the benchmark', file=sys.stderr)
sys.exit(3)
'''

NOT_JSON = '''
print('no json here')
'''


@pytest.fixture
def bench_dir(tmp_path):
    folder = tmp_path / 'benchmarks'
    folder.mkdir()
    (folder / 'good.py').write_text(textwrap.dedent(GOOD))
    (folder / 'bad.py').write_text(textwrap.dedent(FAILING))
    (folder / '__init__.py').write_text('')
    (folder / 'run_all.py').write_text('raise SystemExit(5)\n')
    return folder


def run(capsys, argv):
    tool = load_tool('benchmarks/run_all.py')
    code = tool.main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    return code, out


def test_discover_skips_itself_and_init(bench_dir):
    tool = load_tool('benchmarks/run_all.py')
    assert list(tool.discover(bench_dir)) == ['bad', 'good']
    real = tool.discover(tool.HERE)
    assert 'run_all' not in real and '__init__' not in real
    # every real benchmark has a documented quick entry
    assert set(real) <= set(tool.QUICK_ARGS)


def test_run_all_writes_report_and_summary(bench_dir, tmp_path, capsys):
    out_md = tmp_path / 'docs' / 'benchmarks.md'
    code, out = run(capsys, ['--dir', str(bench_dir), '--out', str(out_md),
                             '--', '--device', 'cpu'])
    assert code == 1  # one benchmark failed
    assert json.loads(out[-1]) == {'bad': 'failed', 'good': 'ok'}
    assert out[-2] == str(out_md)
    text = out_md.read_text()
    # header
    assert text.startswith('# Benchmarks')
    assert ' UTC' in text and '- CPU: ' in text and '- Cores: ' in text
    assert '- GPU: ' in text and '- RAM: ' in text
    for pkg in ('python', 'torch', 'torchvision', 'mmengine', 'mmcv',
                'mmpretrain', 'faiss', 'pytorch-metric-learning', 'POT'):
        assert f'| {pkg} | ' in text
    # the good benchmark: command, wall time, flattened table, raw JSON
    good = text.split('## good')[1]
    assert '`python good.py --device cpu`' in good
    assert 'Wall time: ' in good and 'Status: **ok**' in good
    assert '| step_ms | 12.35 |' in good
    assert '| ratio | 1.235 |' in good
    assert '| count | 123,456 |' in good
    assert '| big | 1,234,568 |' in good
    assert '| flag | True |' in good
    assert '| nested.inner | 0.000123 |' in good
    assert '| nested.deep.x | 2 |' in good
    assert '| sizes.0.b | 1 |' in good and '| sizes.1.ms | 1.5 |' in good
    assert '| long | [0, 1, 2, 3, 4, 5, … (50 items)] |' in good
    assert "| args | [--device, cpu] |" in good
    assert '<details><summary>raw JSON</summary>' in good
    raw = good.split('```json')[1].split('```')[0]
    assert json.loads(raw)['step_ms'] == 12.345678
    # the failing one: return code and stderr tail, the run went on
    bad = text.split('## bad')[1].split('## good')[0]
    assert 'Status: **failed** (return code 3)' in bad
    assert 'something went wrong in the benchmark' in bad
    assert '| [bad](#bad) | failed |' in text
    assert '| [good](#good) | ok |' in text


def test_only_quick_and_non_json(bench_dir, tmp_path, capsys):
    (bench_dir / 'nojson.py').write_text(NOT_JSON)
    tool = load_tool('benchmarks/run_all.py')
    tool.QUICK_ARGS['good'] = ['--tiny']
    out_md = tmp_path / 'b.md'
    code = tool.main(['--dir', str(bench_dir), '--out', str(out_md),
                      '--only', 'good', 'nojson', '--quick'])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 1
    assert json.loads(out[-1]) == {'good': 'ok', 'nojson': 'failed'}
    text = out_md.read_text()
    assert '`python good.py --tiny`' in text
    assert '--quick' in text.splitlines()[2]
    assert 'not JSON' in text and 'no json here' in text
    assert '## bad' not in text


def test_unknown_name_and_cli(bench_dir, tmp_path, capsys):
    tool = load_tool('benchmarks/run_all.py')
    with pytest.raises(SystemExit):
        tool.main(['--dir', str(bench_dir), '--only', 'nope',
                   '--out', str(tmp_path / 'x.md')])
    out_md = tmp_path / 'cli.md'
    proc = subprocess.run(
        [sys.executable, str(tool.HERE / 'run_all.py'), '--dir',
         str(bench_dir), '--only', 'good', '--out', str(out_md),
         '--timeout', '60'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        'good': 'ok'}
    assert out_md.exists()
