"""The README as a new reader meets it: a first screen they read in a minute, examples that show what they print now,
and no internal issue numbers anywhere a user reads.

README.md is rendered from nbs/index.ipynb by `.ci/readme.py` (CI checks it is current), with the text outputs stored in
the notebook; the demo's report in it comes from benchmarks/results/demo.json (`tables.py --check` in CI)."""
import importlib.util, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT/'README.md').read_text()
pytestmark = pytest.mark.xdist_group('docs')   # after test_notebooks.py on the same worker, whose run of index.ipynb it reuses

def prose(md):
    "`md` without its fenced code blocks"
    return re.sub(r'```.*?```', '', md, flags=re.S)

def test_first_screen():
    top = '\n'.join(README.splitlines()[:40])
    assert len(top.split()) <= 250, f"README's first 40 lines hold {len(top.split())} words (at most 250)"
    assert "print(learn.staged_fine_tune(recipe='auto'))" in top and "recipe's choices:" in top and '  weights:' in top   # the call and its report
    for cmd in ('pip install -e ".[demo]" && fastai-ft demo', 'pip install -e ".[dev]" && python -m pytest'): assert cmd in top
    assert '(benchmarks/README.md)' in top   # the line of evidence
    text = prose(top)
    assert not re.findall(r'\b\d+-\d+\b', text), re.findall(r'\b\d+-\d+\b', text)   # seed ranges
    assert not [h for h in re.findall(r'\b[0-9a-f]{7,40}\b', text) if re.search(r'\d', h) and re.search(r'[a-f]', h)]   # commit hashes

USER_FILES = [ROOT/'README.md', ROOT/'benchmarks'/'README.md', ROOT/'benchmarks'/'battery-history.md', ROOT/'tests'/'README.md',
              *sorted((ROOT/'nbs').glob('*.ipynb'))]

@pytest.mark.parametrize('f', USER_FILES, ids=[f.name for f in USER_FILES])
def test_no_issue_numbers(f):
    "Readers do not have the tracker: a figure or a rule is said in words, not as 'issue 21'"
    text = f.read_text()
    if f.suffix == '.ipynb': text = '\n'.join(''.join(c['source']) for c in json.loads(text)['cells'])
    assert not re.findall(r'(?i)\bissues? ?#?\d+', text), re.findall(r'(?i).{30}\bissues? ?#?\d+.{30}', text)

def _text(o):
    "What an output shows as text (a stream's text or a result's text/plain), joined if stored as lines"
    t = o.get('text', o.get('data', {}).get('text/plain', ''))
    return t if isinstance(t, str) else ''.join(t)

def _masked(outputs):
    "The text of a cell's outputs, run times masked (they change from run to run)"
    return re.sub(r'\b\d+\.\ds\b', '<time>', ''.join(map(_text, outputs)))

def test_outputs_current():
    "The outputs README.md shows are what the notebook's code prints now (`python .ci/readme.py --run` stores them)"
    spec = importlib.util.spec_from_file_location('docs_build', ROOT/'docs'/'build.py')
    docs = importlib.util.module_from_spec(spec); spec.loader.exec_module(docs)
    nb = ROOT/'nbs'/'index.ipynb'
    if not (ran := docs.executed(nb)):
        assert docs.run_nb(nb)[0]
        ran = docs.executed(nb)
    fresh = {c['id']: _masked(c.get('outputs', [])) for c in json.loads(ran.read_text())['cells'] if c['cell_type'] == 'code'}
    stored = {c['id']: _masked(c.get('outputs', [])) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code'}
    stale = [i for i in stored if stored[i] != fresh[i]]
    assert not stale, f"nbs/index.ipynb's stored outputs differ from a fresh run in cells {stale}: run `python .ci/readme.py --run`"
