"pytest's summary names every real-data test that skipped, and why (tests/realdata.py says where the data is looked for)."
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))   # tests import their helpers (realdata, kinds, test_learners) by name

def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get('skipped', []) if 'real-data' in str(r.longrepr)]
    if not skipped: return
    terminalreporter.section(f'{len(skipped)} real-data tests skipped', sep='-', yellow=True)
    for r in skipped: terminalreporter.line(f"{r.nodeid}: {r.longrepr[-1] if isinstance(r.longrepr, tuple) else r.longrepr}")
