"""Convert between notebooks and the 'percent' script form used for quick editing.

    python .ci/nbtool.py py2nb nbs/src/01_data.py nbs/01_data.ipynb
    python .ci/nbtool.py nb2py nbs/01_data.ipynb /tmp/01_data.py

Cells start with `# %%` (code) or `# %% [markdown]` (markdown; every line prefixed with `# `).
The notebook is the source of truth; the script form is a scratch copy for editing.
"""
import sys, json, re
from pathlib import Path
import nbformat

def py2nb(src, dst):
    text = Path(src).read_text()
    cells, kind, buf = [], None, []
    def flush():
        if kind is None: return
        lines = list(buf)
        while lines and not lines[-1].strip(): lines.pop()
        while lines and not lines[0].strip(): lines.pop(0)
        if kind == 'markdown':
            lines = [l[2:] if l.startswith('# ') else l[1:] if l.startswith('#') else l for l in lines]
            cells.append(nbformat.v4.new_markdown_cell('\n'.join(lines)))
        else:
            cells.append(nbformat.v4.new_code_cell('\n'.join(lines)))
    for line in text.splitlines():
        m = re.match(r'^# %%(.*)$', line)
        if m:
            flush(); buf = []
            kind = 'markdown' if '[markdown]' in m.group(1) else 'code'
        else:
            buf.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells, metadata={'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}})
    for i, c in enumerate(nb.cells): c['id'] = f'c{i:04d}'  # stable ids: regenerating gives no churn
    nbformat.write(nb, dst)

def nb2py(src, dst):
    nb = nbformat.read(src, as_version=4)
    out = []
    for c in nb.cells:
        if c.cell_type == 'markdown':
            out.append('# %% [markdown]')
            out += ['# ' + l if l else '#' for l in c.source.splitlines()]
        else:
            out.append('# %%'); out += c.source.splitlines()
        out.append('')
    Path(dst).write_text('\n'.join(out) + '\n')

if __name__ == '__main__':
    cmd, src, dst = sys.argv[1:4]
    {'py2nb': py2nb, 'nb2py': nb2py}[cmd](src, dst)
