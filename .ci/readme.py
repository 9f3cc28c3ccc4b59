"""Render README.md from nbs/index.ipynb (quarto, which nbdev-readme needs, is not installable here).
`python .ci/readme.py` writes README.md; `python .ci/readme.py --check` fails if it is out of date."""
import json, sys
from pathlib import Path
root = Path(__file__).parent.parent
def render():
    out = []
    for c in json.loads((root/'nbs/index.ipynb').read_text())['cells']:
        src = ''.join(c['source']).strip()
        if not src or src.startswith('#| hide'): continue
        if c['cell_type'] == 'markdown': out.append(src)
        else: out.append(f"```python\n{src}\n```")
    return '\n\n'.join(out) + '\n'
if __name__ == '__main__':
    txt, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        if readme.read_text() != txt: sys.exit("README.md is out of date with nbs/index.ipynb: run `python .ci/readme.py`.")
    else: readme.write_text(txt)
