"""Build README.md from nbs/index.ipynb without quarto: execute it, drop `#| hide` cells, strip `#|` lines, and
export markdown without prompts (TOOLCHAIN.md)."""
import re, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent


def build(out=ROOT / 'README.md'):
    nb = nbformat.read(ROOT / 'nbs' / 'index.ipynb', as_version=4)
    NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': str(ROOT / 'nbs')}}).execute()
    cells = []
    for cell in nb.cells:
        lines = cell.source.splitlines()
        if cell.cell_type == 'code' and any(re.match(r'^#\|\s*hide\b', l) for l in lines): continue
        cell.source = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        cells.append(cell)
    nb.cells = cells
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    header = '<!-- Generated from nbs/index.ipynb by .ci/build_readme.py: edit the notebook, not this file. -->\n\n'
    Path(out).write_text(header + body)
    return out


if __name__ == '__main__':
    print(build(sys.argv[1] if len(sys.argv) > 1 else ROOT / 'README.md'))
