"""Render README.md from nbs/index.ipynb (quarto, which nbdev-readme needs, is not installable here).
`python .ci/readme.py` writes README.md; `python .ci/readme.py --check` fails if it is out of date;
`python .ci/readme.py --run` first runs nbs/index.ipynb and stores the text its code cells print in it.

Markdown cells are copied without the region markers of benchmarks/tables.py (HTML comments a reader never sees); code
cells become Python blocks followed by the text they printed or returned, as stored in the notebook (nbdev-clean keeps
outputs; tests/test_readme.py checks they are what the code prints now). Hidden cells are left out."""
import json, re, sys
from pathlib import Path
root = Path(__file__).parent.parent
_marker = re.compile(r'<!-- /?(?:table|fig|block|commands):[\w-]+ -->')

def _md(src):
    "A markdown cell without tables.py's markers: lines holding only a marker go, inline ones are cut out"
    return '\n'.join(_marker.sub('', l) for l in src.splitlines() if not _marker.fullmatch(l.strip()))

def _out(o):
    "The text an output shows: a stream's, or a result's text/plain (images and HTML are the docs site's)"
    if o['output_type'] == 'stream': return ''.join(o['text'])
    return ''.join(o.get('data', {}).get('text/plain', ''))

def text_outputs(cell):
    "The outputs of a code cell, text only: streams, and results' text/plain"
    res = []
    for o in cell.get('outputs', []):
        if o['output_type'] == 'stream': res.append(dict(name=o['name'], output_type='stream', text=o['text']))
        elif 'text/plain' in o.get('data', {}): res.append(dict(data={'text/plain': o['data']['text/plain']}, metadata={}, output_type=o['output_type'],
                                                               **({'execution_count': None} if o['output_type'] == 'execute_result' else {})))
    return res

def run():
    "Run nbs/index.ipynb as the notebook tests do, and store its code cells' text outputs in it"
    import importlib.util, tempfile
    spec = importlib.util.spec_from_file_location('docs_build', root/'docs'/'build.py')
    docs = importlib.util.module_from_spec(spec); spec.loader.exec_module(docs)
    p, d = root/'nbs'/'index.ipynb', Path(tempfile.mkdtemp())
    if not docs.run_nb(p, dest=d)[0]: sys.exit('nbs/index.ipynb failed')
    ran, nb = json.loads((d/'index.ipynb').read_text()), json.loads(p.read_text())
    outs = {c['id']: text_outputs(c) for c in ran['cells'] if c['cell_type'] == 'code'}
    for c in nb['cells']:
        if c['cell_type'] == 'code': c['outputs'] = outs[c['id']]
    p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

def render():
    out = []
    for c in json.loads((root/'nbs/index.ipynb').read_text())['cells']:
        src = ''.join(c['source']).strip()
        if not src or src.startswith('#| hide'): continue
        if c['cell_type'] == 'markdown': out.append(_md(src)); continue
        out.append(f"```python\n{src}\n```")
        if text := ''.join(_out(o) for o in c.get('outputs', [])).rstrip(): out.append(f"```text\n{text}\n```")
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    if '--run' in sys.argv: run()
    txt, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        if readme.read_text() != txt: sys.exit("README.md is out of date with nbs/index.ipynb: run `python .ci/readme.py`.")
    else: readme.write_text(txt)
