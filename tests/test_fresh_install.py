"""The README's first command as a new user runs it: only the `demo` extra installed, so the `dev` extra's packages
(timm, accelerate, nbdev, pytest) are missing. CI installs them, so these tests make them unimportable in a subprocess.
The whole `fastai-ft demo` runs once, here: its accuracy, report and files are checked in the same run."""
import os, re, shutil, subprocess, sys, time
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
    48 px, recipe='auto' with 12 fine-tuning epochs at lr_mult 30): it finishes, ends in the range its held-out benchmark
    measured (0.96+, above the probe's 0.95) and saves its files"""
    exe = shutil.which('fastai-ft')
    assert exe, "the fastai-ft console script is not installed: pip install -e '.[demo]'"
    start = time.time()
    p = run([exe, 'demo', '--out', str(tmp_path/'out')], env, timeout=1500)
    print(f"fastai-ft demo: {time.time()-start:.0f}s")
    assert p.returncode == 0, p.stderr[-3000:]
    assert 'Traceback' not in p.stderr and 'torch.jit.script' not in p.stderr, p.stderr[-3000:]
    m = re.search(r'validation accuracy (\d\.\d+) on 360 images', p.stdout)
    assert m, p.stdout[-3000:]
    # Held out over seeds the demo's settings score 0.975-0.983 with the recipe's label smoothing (benchmarks/results/ls3-digits.md),
    # 0.964-0.983 without it (recipe3-digits-lite0-48px.md, demo-variants.jsonl), the linear probe 0.950-0.958, fastai's
    # fine_tune settings 0.36-0.49. One seed's score moves by a digit or two between machines with the same code (float
    # rounding differs between CPUs), so issue 10's 0.97 per seed is a benchmark, not a test; 0.96 is below every measured
    # seed and above the probe.
    assert float(m[1]) >= 0.96, f"demo accuracy {m[1]} < 0.96"
    assert 'floor' in p.stdout and 'ceiling' in p.stdout and 'recipe: weights:' in p.stdout
    assert 'makes the fine-tuned weights, not their mix with the head, the reference' in p.stdout   # a far domain: bn='eval', ref=1
    assert (tmp_path/'cache'/'fastai_ft'/'digits'/'digits.json').exists()
    assert {'export.pkl', 'history.csv', 'report.txt'} <= {o.name for o in (tmp_path/'out').iterdir()}
