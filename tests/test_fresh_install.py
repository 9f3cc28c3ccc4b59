"""The README's first command as a new user runs it: only the `demo` extra installed, so the `dev` extra's packages
(timm, accelerate, nbdev, pytest) are missing. CI installs them, so these tests make them unimportable in a subprocess.
The whole `fastai-ft demo` runs once, exactly as the README gives it, and its accuracy, report and files are checked in
the same run."""
import json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV_ONLY = ('timm', 'accelerate', 'nbdev', 'pytest')

@pytest.fixture
def env(tmp_path):
    "Environment whose PYTHONPATH starts with modules that fail to import exactly as missing packages do"
    block = tmp_path/'block'; block.mkdir()
    for m in DEV_ONLY: (block/f'{m}.py').write_text(f"raise ModuleNotFoundError(\"No module named '{m}'\", name='{m}')\n")
    return {**os.environ, 'XDG_CACHE_HOME': str(tmp_path/'cache'),
            'PYTHONPATH': os.pathsep.join([str(block), str(ROOT), os.environ.get('PYTHONPATH', '')])}

def run(cmd, env, timeout=900):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)

def test_blocker_works(env):
    for m in DEV_ONLY:
        p = run([sys.executable, '-c', f'import {m}'], env)
        assert p.returncode != 0 and 'ModuleNotFoundError' in p.stderr, (m, p.stderr[-500:])

def test_import_all_without_dev_packages(env):
    p = run([sys.executable, '-c', 'from fastai_ft.all import *; import fastai_ft.models, fastai_ft.cli'], env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stderr == '', f"importing the package printed: {p.stderr[-1000:]}"   # no torch.jit FutureWarning, nothing else

def test_demo_command_without_dev_packages(env, tmp_path):
    """`fastai-ft demo`, the README's first line, through the installed console script with its defaults (bundled digits,
    48 px, recipe='auto' with no task-specific arguments: the drift reads digits as far from ImageNet, so 12 fine-tuning
    epochs with bn='eval'): it finishes, ends in the range its held-out benchmark measured (above the probe) and saves its files"""
    exe = shutil.which('fastai-ft')
    assert exe, "the fastai-ft console script is not installed: pip install -e '.[demo]'"
    start = time.time()
    p = run([exe, 'demo', '--out', str(tmp_path/'out')], env, timeout=1800)
    print(f"fastai-ft demo: {time.time()-start:.0f}s")
    rc, stdout, stderr = p.returncode, p.stdout, p.stderr
    assert rc == 0, stderr[-3000:]
    assert 'Traceback' not in stderr and 'torch.jit.script' not in stderr, stderr[-3000:]
    m = re.search(r'validation accuracy (\d\.\d+) on 360 images', stdout)
    assert m, stdout[-3000:]
    # Held out (benchmarks/results/battery-final.json, task digits: 1077/360/360 splits, seeds 100-104, no arguments) the recipe
    # scored 0.947-0.986 (one seed of five under 0.97) and the linear probe 0.936-0.956. This checks the demo's own split
    # (seed 0) at 0.96: above the probe; per-seed figures are the benchmark's, not this test's.
    assert float(m[1]) >= 0.96, f"demo accuracy {m[1]} < 0.96"
    assert 'floor' in stdout and 'ceiling' in stdout and "recipe's choices:" in stdout and '  weights:' in stdout   # the report, printed
    d = {o['part']: o for o in json.loads((tmp_path/'out'/'decisions.json').read_text())}
    assert d['bn']['choice'] == 'eval' and d['bn']['evidence']['drift'] > d['bn']['evidence']['threshold'], d['bn']   # the drift reads digits as far ...
    assert (d['fine_tune']['choice'], d['fine_tune']['evidence']['budget']) == (12, 'far'), d['fine_tune']                # ... so the far budget
    assert d['reference']['choice'] == 1, d['reference']                                                                   # ... and the fine-tuned weights as the reference
    assert (tmp_path/'cache'/'fastai_ft'/'digits'/'digits.json').exists()
    assert {'export.pkl', 'history.csv', 'report.txt', 'decisions.json'} <= {o.name for o in (tmp_path/'out').iterdir()}
