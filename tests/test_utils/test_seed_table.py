import json

import pytest

from mmmix.utils import seed_table


def test_summarize_union_of_columns_and_print(tmp_path, capsys):
    for name in ('a_seed0', 'a_seed2', 'b_seed1'):
        (tmp_path / name).mkdir()
    values = {'a_seed0': dict(x=1.), 'a_seed2': dict(x=3., y=5.),
              'b_seed1': dict(y=2.)}
    runs = seed_table.seed_runs(
        str(tmp_path), ['a', 'b'], [0, 1, 2],
        lambda d: values[d.split('/')[-1]])
    assert [len(r) for r in runs.values()] == [2, 1]  # seed 1 of a missing
    table, columns = seed_table.summarize(runs)
    assert columns == ['x', 'y']
    assert table['a']['x'] == dict(mean=2., std=2 ** .5, n=2)
    assert table['a']['y'] == dict(mean=5., std=0., n=1)
    assert table['b']['x'] is None
    seed_table.print_table(table, columns, headers=['X', 'Y'])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == '| method | seeds | X | Y |'
    assert out[3] == '| b | 1 | — | 2.00 ± 0.00 |'
    assert json.loads(out[-1]) == table
    with pytest.raises(FileNotFoundError, match='no runs of c'):
        seed_table.seed_runs(str(tmp_path), ['c'], [0], lambda d: {})
