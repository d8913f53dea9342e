"""Run every benchmark in ``tools/benchmarks/`` and write a markdown report.

Each benchmark script (every ``*.py`` of the folder except this one and
``__init__.py``) runs in its own subprocess with the same Python
interpreter; its stdout is captured and its LAST line is parsed as JSON (all
the benchmarks here print their result that way). A benchmark that exits
with a non-zero code, times out or whose last line is not JSON is recorded
as failed, with its return code and the tail of its stderr, and the run goes
on with the next one.

The report (``--out``, default ``docs/benchmarks.md``) starts with the date
(UTC), the machine (platform, CPU model, cores, RAM, GPUs seen by
``torch.cuda``) and the versions of the libraries that matter; then one
section per benchmark with its command line, wall time, a table of the
scalar entries of its JSON (nested dicts flattened with dotted keys, lists
of dicts with their index, other lists shortened) and the raw JSON in a
collapsed ``<details>`` block. The path of the report is printed, and the
last line printed is a JSON summary ``{name: "ok" | "failed"}``.

``--quick`` passes each benchmark the smoke arguments of ``QUICK_ARGS``
below, so that the whole run takes a few minutes on a CPU:

================  ========================================================
benchmark         quick arguments
================  ========================================================
clim              20k x 128 features, 100 clusters, k = 20; ResNet-18 at 64 px,
                  batch 8, queue 1,024, 2 rounds after 1 warm-up
dora              ``--quick`` (tiny size only, 2 rounds after 1 warm-up)
generative_views  ``--quick`` (batch 16, 2,000 samples, 2 rounds of 2
                  steps after 1 warm-up, a 2 x 2,000 view cache)
interclr          20k-row bank, no 1.28M bank, K = 1,024; ResNet-18 at 64 px,
                  batch 8, queue 1,024, 2 rounds after 1 warm-up
metrix            8 classes x 4, 256 x 4 x 4 maps, 128-d embedding, 2 steps
mixup_step        batch 32 at 32 px, 2 rounds after 1 warm-up
sinkhorn          the default sizes, 2 repeats
================  ========================================================

A benchmark not in the table runs with its defaults under ``--quick``.
Arguments after ``--`` are appended to every benchmark's command line
(e.g. ``-- --device cuda``).

Usage::

    python tools/benchmarks/run_all.py [--out docs/benchmarks.md]
        [--only NAME ...] [--quick] [--timeout S] [--dir DIR] [-- ARGS]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

#: benchmark name -> extra arguments for ``--quick`` (see the module doc).
QUICK_ARGS = {
    'clim': ['--num', '20000', '--clusters', '100', '--k', '20',
             '--arch', 'resnet18', '--size', '64', '--batch', '8',
             '--queue', '1024', '--steps', '2', '--warmup', '1'],
    'dora': ['--quick'],
    'generative_views': ['--quick'],
    'interclr': ['--num', '20000', '--no-big', '--K', '1024',
                 '--arch', 'resnet18', '--size', '64', '--batch', '8',
                 '--queue', '1024', '--step-num', '20000', '--steps', '2',
                 '--warmup', '1'],
    'metrix': ['--classes', '8', '--per-class', '4', '--channels', '256',
               '--size', '4', '--dim', '128', '--steps', '2'],
    'mixup_step': ['--batch', '32', '--steps', '2', '--warmup', '1'],
    'sinkhorn': ['--repeats', '2'],
}

#: (label, distribution names tried in turn) for the versions table.
PACKAGES = (
    ('torch', ('torch',)),
    ('torchvision', ('torchvision',)),
    ('mmengine', ('mmengine',)),
    ('mmcv', ('mmcv', 'mmcv-lite', 'mmcv-full')),
    ('mmpretrain', ('mmpretrain',)),
    ('faiss', ('faiss-cpu', 'faiss-gpu', 'faiss', 'faiss-gpu-cu12',
               'faiss-gpu-cu11')),
    ('pytorch-metric-learning', ('pytorch-metric-learning',)),
    ('POT', ('POT', 'pot')),
)

STDERR_TAIL = 2000


def discover(folder):
    """Benchmark name -> script path, sorted by name."""
    folder = Path(folder)
    skip = {'__init__.py', Path(__file__).name}
    return {p.stem: p for p in sorted(folder.glob('*.py'))
            if p.name not in skip}


def sanitize(text):
    """Drop machine-specific paths from text that goes into the report."""
    for path, repl in ((str(REPO), '.'), (sys.prefix, '<python>'),
                       (str(Path.home()), '~')):
        if path and path not in ('/', '.'):
            text = text.replace(path, repl)
    return text


def display_path(path):
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return path.name


# ----------------------------------------------------------------- machine
def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.lower().startswith(('model name', 'hardware')):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def ram_gib():
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal:'):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    try:
        return (os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
                / 2**30)
    except (ValueError, OSError, AttributeError):
        return None


def gpus():
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        prop = torch.cuda.get_device_properties(i)
        out.append(f'{prop.name} ({prop.total_memory / 2**30:.0f} GiB)')
    return out


def version(names):
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return 'not installed'


def machine_info():
    ram = ram_gib()
    return dict(
        platform=platform.platform(),
        cpu=cpu_model(),
        cores=os.cpu_count(),
        ram=None if ram is None else f'{ram:.1f} GiB',
        gpu=', '.join(gpus()) or 'none',
        omp_num_threads=os.environ.get('OMP_NUM_THREADS', 'unset'))


def versions():
    out = dict(python=platform.python_version())
    for label, names in PACKAGES:
        out[label] = version(names)
    return out


# ------------------------------------------------------------ formatting
def fmt_number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f'{v:,}' if abs(v) >= 10_000 else str(v)
    if v != v or v in (float('inf'), float('-inf')):
        return str(v)
    if v == 0:
        return '0'
    if abs(v) >= 10_000:
        return f'{v:,.0f}'
    if abs(v) >= 100:
        return f'{v:.1f}'
    if abs(v) >= 1e-3:
        return f'{v:.4g}'
    return f'{v:.3g}'


def fmt_value(v, max_items=6):
    if isinstance(v, (list, tuple)):
        items = [fmt_value(x, max_items) for x in v[:max_items]]
        more = f', … ({len(v)} items)' if len(v) > max_items else ''
        return '[' + ', '.join(items) + more + ']'
    if isinstance(v, dict):
        return '{' + ', '.join(f'{k}: {fmt_value(x, max_items)}'
                               for k, x in v.items()) + '}'
    if v is None:
        return '—'
    return fmt_number(v)


def flatten(obj, prefix='', max_list=20):
    """Rows ``(dotted key, value)``; dicts and lists of dicts recurse."""
    rows = []
    for key, v in obj.items():
        name = f'{prefix}{key}'
        if isinstance(v, dict):
            rows += flatten(v, name + '.', max_list)
        elif (isinstance(v, list) and v and len(v) <= max_list
              and all(isinstance(x, dict) for x in v)):
            for i, x in enumerate(v):
                rows += flatten(x, f'{name}.{i}.', max_list)
        else:
            rows.append((name, v))
    return rows


def escape(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def section(rec):
    lines = [f'## {rec["name"]}', '',
             f'- Command: `{rec["command"]}`',
             f'- Wall time: {rec["wall_s"]:.1f} s',
             f'- Status: **{rec["status"]}**'
             + ('' if rec['status'] == 'ok'
                else f' (return code {rec["returncode"]})'), '']
    if rec['status'] != 'ok':
        lines += [rec.get('error', ''), '']
        tail = rec.get('stderr_tail') or ''
        if tail:
            lines += ['```text', tail.rstrip(), '```', '']
        return lines
    rows = flatten(rec['result']) if isinstance(rec['result'], dict) \
        else [('value', rec['result'])]
    lines += ['| key | value |', '|---|---|']
    lines += [f'| {escape(k)} | {escape(fmt_value(v))} |' for k, v in rows]
    lines += ['', '<details><summary>raw JSON</summary>', '', '```json',
              json.dumps(rec['result'], indent=2), '```', '', '</details>',
              '']
    return lines


def render(records, info, vers, quick, extra):
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = ['# Benchmarks', '',
             'Written by `python tools/benchmarks/run_all.py'
             + (' --quick' if quick else '')
             + (' -- ' + ' '.join(extra) if extra else '') + '`'
             + (' (smoke sizes: not the numbers to quote)' if quick else '')
             + '.', '',
             f'- Date: {now:%Y-%m-%d %H:%M} UTC']
    labels = dict(platform='Platform', cpu='CPU', cores='Cores', ram='RAM',
                  gpu='GPU', omp_num_threads='OMP_NUM_THREADS')
    lines += [f'- {labels[k]}: {v}' for k, v in info.items()]
    lines += ['', '| package | version |', '|---|---|']
    lines += [f'| {k} | {v} |' for k, v in vers.items()]
    lines += ['', '| benchmark | status | wall time (s) |', '|---|---|---|']
    lines += [f'| [{r["name"]}](#{r["name"].lower()}) '
              f'| {r["status"]} | {r["wall_s"]:.1f} |' for r in records]
    lines.append('')
    for rec in records:
        lines += section(rec)
    return '\n'.join(lines).rstrip() + '\n'


# ------------------------------------------------------------------- run
def run_one(name, script, args, timeout):
    cmd = [sys.executable, str(script)] + list(args)
    rec = dict(name=name,
               command=' '.join(['python', display_path(script)]
                                + list(args)))
    print(f'[run_all] {rec["command"]}', flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        rec.update(wall_s=time.perf_counter() - start, status='failed',
                   returncode='timeout',
                   error=f'Timed out after {timeout} s.',
                   stderr_tail=sanitize(_text(exc.stderr)[-STDERR_TAIL:]))
        return rec
    rec['wall_s'] = time.perf_counter() - start
    rec['returncode'] = proc.returncode
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    tail = sanitize(proc.stderr[-STDERR_TAIL:])
    if proc.returncode != 0:
        rec.update(status='failed', error='Non-zero exit code.',
                   stderr_tail=tail)
        return rec
    try:
        rec['result'] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        last = lines[-1][-200:] if lines else '(no output)'
        rec.update(status='failed', stderr_tail=tail,
                   error=f'The last line of stdout is not JSON: '
                         f'`{escape(sanitize(last))}`')
        return rec
    rec['status'] = 'ok'
    return rec


def _text(data):
    if data is None:
        return ''
    return data.decode(errors='replace') if isinstance(data, bytes) else data


def parse_args(argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog='Arguments after -- are passed to every benchmark.')
    parser.add_argument('--out', default='docs/benchmarks.md',
                        help='markdown report (relative: to the cwd)')
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help='run only these benchmarks (script stems)')
    parser.add_argument('--quick', action='store_true',
                        help='pass each benchmark its QUICK_ARGS')
    parser.add_argument('--timeout', type=float, default=None,
                        help='seconds per benchmark (default: none)')
    parser.add_argument('--dir', default=str(HERE),
                        help='folder of benchmark scripts (default: the '
                             'folder of this script)')
    args = parser.parse_args(argv)
    args.extra = extra
    return parser, args


def main(argv=None):
    parser, args = parse_args(argv)
    found = discover(args.dir)
    if args.only:
        unknown = [n for n in args.only if n not in found]
        if unknown:
            parser.error(f'unknown benchmark(s) {unknown}; '
                         f'known: {sorted(found)}')
        found = {n: found[n] for n in args.only}
    records = []
    for name, script in found.items():
        bench_args = (QUICK_ARGS.get(name, []) if args.quick else []) \
            + args.extra
        rec = run_one(name, script, bench_args, args.timeout)
        print(f'[run_all] {name}: {rec["status"]} '
              f'({rec["wall_s"]:.1f} s)', flush=True)
        records.append(rec)
    text = render(records, machine_info(), versions(), args.quick,
                  args.extra)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(out)
    summary = {r['name']: r['status'] for r in records}
    print(json.dumps(summary))
    return 0 if all(s == 'ok' for s in summary.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
