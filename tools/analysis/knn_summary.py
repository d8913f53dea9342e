"""Print the k-NN results a KNNEvalHook wrote (``knn_summary.json``).

Usage: python tools/analysis/knn_summary.py WORK_DIR/knn_summary.json
"""
import argparse
import json

ROWS = (('raw_pixels', 'k-NN on raw pixels'),
        ('init', 'network at random init'),
        ('trained', 'network after pretraining'))


def format_summary(summary: dict) -> str:
    keys = [k for k in summary.get('trained', summary.get('init', {}))
            if k.startswith('top')]
    lines = ['| features | ' + ' | '.join(keys) + ' |',
             '|---|' + '---|' * len(keys)]
    for tag, name in ROWS:
        if tag in summary:
            rec = summary[tag]
            if tag == 'trained':
                name += f" ({rec['epoch']} epochs)"
            lines.append(f'| {name} | ' +
                         ' | '.join(f'{rec[k]:.2f}' for k in keys) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('summary', help='knn_summary.json')
    args = parser.parse_args(argv)
    with open(args.summary) as f:
        print(format_summary(json.load(f)))


if __name__ == '__main__':
    main()
