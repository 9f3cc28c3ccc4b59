"""Every learner kind fastbook fine-tunes (tests/kinds.py, tiny generated data, mechanics only), the way a user calls it:
(a) `staged_fine_tune(*args)` with `fine_tune`'s arguments trains exactly what `fine_tune(*args)` trains, weight for weight
    (with one warning where the learner has one parameter group and nothing can be frozen);
(b) `staged_fine_tune(recipe='auto')` runs to the end, reports one decision line for every part of the recipe, and leaves
    the learner holding weights that validate as its report says."""
import contextlib, io, random, sys, warnings
from pathlib import Path
import pandas as pd, pytest, torch
from fastai.basics import set_seed, Callback
from fastai_ft.all import *

sys.path.insert(0, str(Path(__file__).parent))
from kinds import KINDS

ONE_GROUP = {'collab', 'tabular'}

def seeded(learn, seed=0):
    "Every random state a run draws from set to `seed`: torch's and fastai's DataLoader shuffles (which have their own RNG)"
    set_seed(seed)
    for dl in learn.dls.loaders: dl.rng = random.Random(seed)
    return learn

def weights(learn): return [p.detach().clone() for p in learn.model.parameters()]

def quiet(f):
    with contextlib.redirect_stdout(io.StringIO()): return f()

@pytest.mark.parametrize('kind', list(KINDS))
def test_staged_equals_fine_tune(kind, tmp_path):
    (a, args), (b, _) = KINDS[kind](tmp_path/'a'), KINDS[kind](tmp_path/'b')
    for x, y in zip(weights(a), weights(b)): assert torch.equal(x, y)   # the same start
    with a.no_bar(), a.no_logging(): seeded(a).fine_tune(*args)
    with warnings.catch_warnings(record=True) as ws, b.no_bar(), b.no_logging():
        warnings.simplefilter('always')
        seeded(b); quiet(lambda: b.staged_fine_tune(*args))
    said = [str(w.message) for w in ws if 'parameter group' in str(w.message)]   # one warning where nothing can be frozen
    assert len(said) == (kind in ONE_GROUP) and all(o.startswith("The learner has 1 parameter group, so freeze() freezes nothing") for o in said), said
    for x, y in zip(weights(a), weights(b)): assert torch.equal(x, y), kind

@pytest.mark.parametrize('freeze_epochs', [3])
def test_staged_equals_fine_tune_freeze_epochs(freeze_epochs, tmp_path):
    "fastbook's `fine_tune(n, freeze_epochs=3)` on a vision learner"
    (a, _), (b, _) = KINDS['single_label'](tmp_path/'a'), KINDS['single_label'](tmp_path/'b')
    with a.no_bar(), a.no_logging(): seeded(a).fine_tune(1, freeze_epochs=freeze_epochs)
    with b.no_bar(), b.no_logging(): seeded(b); quiet(lambda: b.staged_fine_tune(1, freeze_epochs=freeze_epochs))
    for x, y in zip(weights(a), weights(b)): assert torch.equal(x, y)

@pytest.mark.parametrize('kind', list(KINDS))
def test_recipe_runs_and_says_why(kind, tmp_path):
    learn, _ = KINDS[kind](tmp_path)
    own = learn.loss_func
    with warnings.catch_warnings(record=True) as ws, learn.no_bar(), learn.no_logging():
        warnings.simplefilter('always')
        r = quiet(lambda: seeded(learn).staged_fine_tune(recipe='auto', epochs=1, freeze_epochs=2))
    parts = [d.part for d in r.decisions]
    assert parts == ([p for p in PARTS if p != 'reference'] if kind in ONE_GROUP else list(PARTS)), parts   # a decision for every part that applies
    assert list(pd.DataFrame(r.decisions).columns) == ['part', 'choice', 'evidence', 'reason']
    assert learn.loss_func is own                                   # the learner's own loss is back
    one = [w for w in ws if 'parameter group' in str(w.message)]
    assert len(one) == (kind in ONE_GROUP), [str(w.message) for w in one]
    assert not [w for w in ws if 'recipe=' in str(w.message)], [str(w.message) for w in ws]   # the final choice did not fail
    s = dict(zip(['valid_loss', *[m.name for m in learn.metrics]], learn.validate()))
    metric = r.metric if r.metric in s else 'valid_loss'
    if kind in ONE_GROUP: assert r.floor is None and r.choice('head') is None and r.choice('weights') == 'last'
    else: assert r.ceiling == pytest.approx(s[metric], abs=1e-5), (r.ceiling, s)   # the weights held validate as reported
    weights = r.decision('weights')
    if kind not in ONE_GROUP:   # every candidate compared with the reference item by item: right or wrong, else by their losses
        tests = {c['test'] for c in learn.recipe_candidates.to_dict('records')}
        assert tests == ({'sign test'} if kind in ('single_label', 'text') else {'signed-rank test'}), tests
        assert weights.choice in learn.recipe_candidates.index and weights.evidence['reference'] == learn.recipe_candidates.index[0]
    smoothed = kind in ('single_label', 'text', 'segmentation', 'tabular')   # plain cross-entropy
    loss = next(d for d in r.decisions if d.part == 'loss')
    assert loss.choice == ('LabelSmoothingCrossEntropyFlat' if smoothed else loss.evidence['learner_loss']) and loss.evidence['eps'] == 0.1, loss
    head = r.decision('head')
    if kind in ('segmentation', 'text'): assert head.evidence['cached'] is False and head.choice == 2, head   # no cache: a U-Net's hooks, a text encoder's tuple
    elif kind not in ONE_GROUP: assert head.evidence['cached'] is True and head.choice == 2, head

def test_a_failing_final_choice_keeps_the_run(tmp_path, monkeypatch):
    "Anything that fails after training leaves the trained weights on the learner, and says what failed"
    import fastai_ft.recipe as rcp
    learn, _ = KINDS['single_label'](tmp_path)
    def boom(*a, **k): raise RuntimeError('a report line could not be formatted')
    monkeypatch.setattr(rcp, 'choose_weights', boom)
    class Last(Callback):
        order = 200
        def after_run(self): self.sd = {k: v.clone() for k, v in self.learn.model.state_dict().items()}   # after the tracker's
    last = Last()
    with pytest.warns(UserWarning, match="recipe='auto' trained to the end, but choosing among the heads"), learn.no_bar(), learn.no_logging():
        r = quiet(lambda: seeded(learn).staged_fine_tune(recipe='auto', epochs=1, freeze_epochs=2, cbs=last))
    assert r.choice('weights') is None and r.decision('weights').evidence['error'] == 'RuntimeError: a report line could not be formatted', r.decisions
    for k, v in learn.model.state_dict().items(): assert torch.equal(v, last.sd[k]), k
