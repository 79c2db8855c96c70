"""Run every library notebook as one pytest case, so the count of notebooks tested is visible in the log.

Each notebook runs through nbdev's own runner (`nbdev.test.test_nb`): same directives as `nbdev_test`
(`#| slow`, `#| eval: false`, `skip_exec`), cwd = the notebook's folder. A library notebook that executes no test
cell (a cell calling a fastcore `test*` function or using `assert`) fails, so a notebook cannot pass by silently
running nothing, or by running only prints and displays.
"""
import re
from pathlib import Path
import pytest
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it
from nbdev.process import NBProcessor
from nbdev.frontmatter import FrontmatterProc

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'


def _skipped_folder(path: Path) -> bool:
    "A `.notest` file in the notebook's folder (or a folder above it, inside nbs/) skips it, as in nbdev_test."
    folder = path.parent
    while folder != NBS.parent:
        if (folder / '.notest').exists(): return True
        folder = folder.parent
    return False


NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb')
                   if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_') and not _skipped_folder(p))


def _directives(cell) -> dict:
    return getattr(cell, 'directives_', {}) or {}


# fastcore.test calls (test_eq, test_close, test_fail, test_ne, test_is, test(...)), `assert` statements and
# numpy/pandas `assert_*` helpers
TEST_CALL = re.compile(r'\b(?:test(?:_\w+)?\s*\(|assert(?:_\w+)?\b)')


def _is_test_source(source: str) -> bool:
    "Whether code (comment lines ignored) calls a test function or asserts."
    code = '\n'.join(line for line in source.splitlines() if not line.lstrip().startswith('#'))
    return bool(TEST_CALL.search(code))


def test_test_cell_detection():
    assert _is_test_source('test_eq(f(1), 2)') and _is_test_source('x = 1\nassert x == 1, x')
    assert _is_test_source("test_fail(lambda: f(), contains='bad')") and _is_test_source('pd.testing.assert_frame_equal(a, b)')
    assert _is_test_source('test(a, b, operator.lt)')
    assert not _is_test_source('print(summary)') and not _is_test_source('summary')
    assert not _is_test_source('# test_eq(a, b) is below\nshow(df)') and not _is_test_source('latest = run_test_split(x)')


def _runnable_test_cells(path: Path, flags: set) -> int:
    "Code cells that will run, are not exports and test something (a fastcore `test*` call or an `assert`)."
    nb = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    count = 0
    for cell in nb.cells:
        if cell.cell_type != 'code' or not cell.source.strip(): continue
        d = _directives(cell)
        if d.get('eval:', [''])[0].lower() == 'false' or (flags & d.keys()): continue
        if {'export', 'exporti', 'exports', 'default_exp', 'hide'} & d.keys(): continue
        count += _is_test_source(cell.source)
    return count


def _is_library(path: Path) -> bool:
    "A notebook that exports a module (`#| default_exp`): it must test what it exports."
    nb = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    return any('default_exp' in _directives(c) for c in nb.cells if c.cell_type == 'code')


def _has_slow_cells(path: Path) -> bool:
    nb = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    return any('slow' in _directives(c) for c in nb.cells if c.cell_type == 'code')


def test_notebooks_were_found():
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.relative_to(NBS).as_posix() for p in NOTEBOOKS])
def test_notebook(path, slow):
    skip_flags = {'notest', 'slow'}
    if slow:
        if not _has_slow_cells(path): pytest.skip('no #| slow cells')
        skip_flags.discard('slow')
    if _is_library(path): assert _runnable_test_cells(path, skip_flags) > 0, f'{path.name} runs no test cell'
    ok, seconds = run_notebook(path, skip_flags=sorted(skip_flags), basepath=ROOT)
    assert ok, f'{path.name} failed (traceback above)'
