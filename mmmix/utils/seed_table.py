"""Mean ± std over seeds of per-run results: what the ``*_table.py``
analysis tools share (run directories ``ROOT/METHOD_seedS``, a markdown
table, the same numbers as JSON)."""
import argparse
import json
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .profiling import mean_std


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``ROOT --methods A B ... [--seeds 0 1 2]``."""
    parser.add_argument('root')
    parser.add_argument('--methods', nargs='+', required=True)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])


def seed_runs(root: str, methods: Sequence[str], seeds: Sequence[int],
              read_run: Callable[[str], dict],
              skip_missing: bool = True) -> Dict[str, List[dict]]:
    """``read_run(ROOT/METHOD_seedS)`` for every method and seed.

    Args:
        skip_missing (bool): leave out seeds whose directory does not exist
            (otherwise ``read_run`` sees it and raises its own error).

    Raises:
        FileNotFoundError: a method without any run.
    """
    out = {}
    for method in methods:
        dirs = [osp.join(root, f'{method}_seed{s}') for s in seeds]
        if skip_missing:
            dirs = [d for d in dirs if osp.isdir(d)]
        runs = [read_run(d) for d in dirs]
        if not runs:
            raise FileNotFoundError(f'no runs of {method} under {root}')
        out[method] = runs
    return out


def summarize(runs: Dict[str, List[dict]],
              columns: Optional[Sequence[str]] = None
              ) -> Tuple[Dict[str, Dict[str, Optional[dict]]], List[str]]:
    """:func:`~mmmix.utils.profiling.mean_std` of every column per method;
    ``columns`` defaults to every key of every run, in order of first
    appearance. Returns the table and its columns."""
    if columns is None:
        columns = []
        for method_runs in runs.values():
            for run in method_runs:
                columns += [k for k in run if k not in columns]
    table = {m: {k: mean_std([r.get(k) for r in method_runs])
                 for k in columns}
             for m, method_runs in runs.items()}
    return table, list(columns)


def print_table(table: Dict[str, Dict[str, Optional[dict]]],
                columns: Sequence[str],
                headers: Optional[Sequence[str]] = None,
                seeds_column: bool = True, missing: str = '—') -> None:
    """Print the markdown table (``mean ± std``, 2 decimals) and, as the
    last line, ``table`` as JSON."""
    headers = list(headers or columns)
    lead = ['method'] + (['seeds'] if seeds_column else [])
    print('| ' + ' | '.join(lead + headers) + ' |')
    print('|---' * (len(lead) + len(headers)) + '|')
    for method, row in table.items():
        cells = [missing if row.get(c) is None else
                 f'{row[c]["mean"]:.2f} ± {row[c]["std"]:.2f}'
                 for c in columns]
        if seeds_column:
            n = max((s['n'] for s in row.values() if s), default=0)
            cells = [str(n)] + cells
        print(f'| {method} | ' + ' | '.join(cells) + ' |')
    print(json.dumps(table))
