"""Run every notebook in nbs/ as a test, as `nbdev-test` does (cells flagged `slow` run only with FASTAI_FT_SLOW=1).

Each executed copy is kept in `_exec/`, where `docs/build.py` finds it, so building the docs after the tests runs nothing again.
A notebook whose data is missing raises `unittest.SkipTest` in a hidden cell, and is skipped with its reason."""
import importlib.util, os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location('docs_build', ROOT/'docs'/'build.py')
docs = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(docs)

NBS = sorted((ROOT/'nbs').glob('*.ipynb'))
SKIP = [] if os.environ.get('FASTAI_FT_SLOW') else ['slow']
pytestmark = pytest.mark.xdist_group('docs')   # one worker runs the notebooks, then test_site.py reads what they left in _exec/

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    ok, secs = docs.run_nb(nb, skip_flags=SKIP)
    assert ok, f"{nb.name} failed (see the traceback above)"
    # What the notebook's `@patch` cells and registrations changed is put back: later notebooks and tests see the library,
    # not notebook code (03_learner once left `staged_fine_tune` bound to its own, empty, recipes registry)
    import fastai_ft.all, fastai_ft.learner, fastai_ft.recipe
    from fastai.learner import Learner
    assert Learner.staged_fine_tune.__code__.co_filename == fastai_ft.learner.__file__
    assert fastai_ft.core.recipes == {'auto': fastai_ft.recipe.auto_recipe}
