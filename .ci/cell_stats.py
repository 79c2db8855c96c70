"""Print the size of the exported cells of the library notebooks, and fail when they outgrow the house style.

    python .ci/cell_stats.py            # table + totals; exit 1 if the median exported cell > 12 lines or any > 60

A library notebook is one with `#| default_exp`. An exported cell is a code cell whose directives include
`#| export` (or `exporti`/`exports`). Lines are the cell's source lines, directives and comments included.
"""
import json, statistics, sys
from pathlib import Path

NBS = Path(__file__).resolve().parent.parent / 'nbs'
MEDIAN_LIMIT, MAX_LIMIT = 12, 60
EXPORT = ('#| export', '#|export', '#| exporti', '#| exports')


def code_cells(path: Path) -> list:
    "The code cells' sources of a notebook."
    cells = json.loads(path.read_text())['cells']
    return [''.join(c['source']) for c in cells if c['cell_type'] == 'code']


def exported_sizes(path: Path) -> list|None:
    "Line counts of the exported cells, or None when the notebook exports no module."
    cells = code_cells(path)
    if not any(c.lstrip().startswith('#| default_exp') for c in cells): return None
    return [len(c.splitlines()) for c in cells if c.lstrip().startswith(EXPORT)]


def main() -> int:
    rows, every = [], []
    for path in sorted(NBS.glob('*.ipynb')):
        sizes = exported_sizes(path)
        if sizes is None or not sizes: continue
        every += sizes
        rows.append((path.stem, len(sizes), statistics.median(sizes), max(sizes), sum(sizes)))
    print(f"{'notebook':<22}{'cells':>6}{'median':>8}{'max':>6}{'lines':>7}")
    for name, n, med, big, total in rows: print(f"{name:<22}{n:>6}{med:>8g}{big:>6}{total:>7}")
    median, biggest = statistics.median(every), max(every)
    print(f"{'all library notebooks':<22}{len(every):>6}{median:>8g}{biggest:>6}{sum(every):>7}")
    print(f"median exported cell {median:g} lines (limit {MEDIAN_LIMIT}), largest {biggest} (limit {MAX_LIMIT})")
    return 0 if median <= MEDIAN_LIMIT and biggest <= MAX_LIMIT else 1


if __name__ == '__main__':
    sys.exit(main())
