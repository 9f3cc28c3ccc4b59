"Run every notebook in nbs/ as a test, as `nbdev-test` does (cells flagged `slow` run only with FASTAI_FT_SLOW=1)."
import os
from pathlib import Path
import pytest
import nbdev.test as nbt

NBS = sorted((Path(__file__).parent.parent/'nbs').glob('*.ipynb'))
SKIP = [] if os.environ.get('FASTAI_FT_SLOW') else ['slow']

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    ok, secs = nbt.test_nb(nb, skip_flags=SKIP)
    assert ok, f"{nb.name} failed (see the traceback above)"
