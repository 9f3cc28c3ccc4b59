"""The README's first command as a new user runs it: only the `demo` extra installed, so the `dev` extra's packages
(timm, accelerate, nbdev, pytest) are missing. CI installs them, so this test makes them unimportable in a subprocess."""
import os, re, shutil, subprocess, sys
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
    "A short `fastai-ft demo` through the installed console script, as the README's first line runs it"
    exe = shutil.which('fastai-ft')
    assert exe, "the fastai-ft console script is not installed: pip install -e '.[demo]'"
    p = run([exe, 'demo', '--size', '32', '--epochs', '1', '--out', str(tmp_path/'out')], env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert 'Traceback' not in p.stderr and 'torch.jit.script' not in p.stderr, p.stderr[-3000:]
    assert re.search(r'validation accuracy \d\.\d+', p.stdout), p.stdout[-3000:]
