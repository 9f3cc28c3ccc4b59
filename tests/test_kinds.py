"""Every learner kind fastbook fine-tunes (tests/kinds.py, tiny generated data, mechanics only), the way a user calls it:
(a) `staged_fine_tune(*args)` with `fine_tune`'s arguments trains exactly what `fine_tune(*args)` trains, weight for weight
    (with one warning where the learner has one parameter group and nothing can be frozen);
(b) `staged_fine_tune(recipe='auto')` runs to the end, reports one decision line for every part of the recipe, and leaves
    the learner holding weights that validate as its report says."""
import contextlib, io, random, sys, warnings
from pathlib import Path
import pytest, torch
from fastai.basics import set_seed, Callback
from fastai_ft.all import *

sys.path.insert(0, str(Path(__file__).parent))
from kinds import KINDS

PARTS = ('head:', 'weight decay', 'linear probe head:', 'BatchNorm while fine-tuning:', 'fine-tuning:', 'loss:', 'weights:')
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
    assert len(r.decisions) == len(PARTS) and all(d.startswith(p) for d, p in zip(r.decisions, PARTS)), r.decisions
    assert learn.loss_func is own                                   # the learner's own loss is back
    one = [w for w in ws if 'parameter group' in str(w.message)]
    assert len(one) == (kind in ONE_GROUP), [str(w.message) for w in one]
    assert not [w for w in ws if 'recipe=' in str(w.message)], [str(w.message) for w in ws]   # the final choice did not fail
    s = dict(zip(['valid_loss', *[m.name for m in learn.metrics]], learn.validate()))
    metric = r.metric if r.metric in s else 'valid_loss'
    if kind in ONE_GROUP: assert r.floor is None and 'no head on a pretrained body' in r.decisions[-1]
    else: assert r.ceiling == pytest.approx(s[metric], abs=1e-5), (r.ceiling, s)   # the weights held validate as reported
    if kind in ('multi_label', 'points', 'segmentation'):                # compared item by item by their losses
        assert 'signed-rank test' in r.decisions[-1], r.decisions[-1]
    if kind in ('single_label', 'text'): assert 'sign test' in r.decisions[-1], r.decisions[-1]
    if kind in ('multi_label', 'points', 'collab'): assert 'label smoothing' not in r.decisions[5] and 'in every stage: a' in r.decisions[5], r.decisions[5]
    if kind == 'segmentation': assert 'forward hooks' in r.decisions[0] and "a U-Net's decoder" in r.decisions[0], r.decisions[0]

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
    assert r.decisions[-1].startswith("weights: the run's last: choosing among the heads, the fine-tuned weights and their mix failed (RuntimeError")
    for k, v in learn.model.state_dict().items(): assert torch.equal(v, last.sd[k]), k
