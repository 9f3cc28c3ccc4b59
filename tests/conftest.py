"""pytest's summary names every real-data test that skipped, and why (tests/realdata.py says where the data is looked for).
The tests run in pytest-xdist's workers, one per core (`-n auto` in pyproject.toml), each with one torch thread, and so
do the processes they start (OMP_NUM_THREADS=1): two torch processes with two threads each on two cores slow each other
several-fold. The notebooks and the docs site built from them share one worker (`xdist_group('docs')`), in that order."""
import os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))   # tests import their helpers (realdata, kinds, test_learners) by name
from realdata import threads

def pytest_configure(config):
    if os.environ.get('PYTEST_XDIST_WORKER'): os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = '1'

def pytest_runtest_setup(item):
    import torch
    torch.set_num_threads(threads())   # a notebook or test that set its own count does not leak into the next test

def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get('skipped', []) if 'real-data' in str(r.longrepr)]
    if not skipped: return
    terminalreporter.section(f'{len(skipped)} real-data tests skipped', sep='-', yellow=True)
    for r in skipped: terminalreporter.line(f"{r.nodeid}: {r.longrepr[-1] if isinstance(r.longrepr, tuple) else r.longrepr}")
