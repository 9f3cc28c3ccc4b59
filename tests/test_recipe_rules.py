"""recipe='auto''s rules, exactly, on small deterministic learners: the final choice among candidates (a lookup model whose
weights say which validation items each candidate gets right), and the recipe's own parameters as the plan and the run
show them (budget, LR ratio, warm-up, few-shot rule, the head's batch size, the drift threshold)."""
import contextlib, io, math
import numpy as np, pytest, torch
from torch import nn
from fastai.basics import Learner, DataLoaders, CrossEntropyLossFlat, Callback, accuracy, set_seed
from fastai.vision.augment import RandTransform
from torch.utils.data import TensorDataset
from fastai_ft.all import *
import fastai_ft.callback.bn
import fastai_ft.recipe

def quiet(f):
    with contextlib.redirect_stdout(io.StringIO()): return f()

def lookup_learner(n=20):
    "Validation item `i` is the one-hot vector `e_i`: a linear model's column `i` is its logits, so a weight matrix says which items it gets right"
    x = torch.eye(n)
    y = torch.zeros(n, dtype=torch.long)   # every item is of class 0
    dls = DataLoaders.from_dsets(TensorDataset(x, y), TensorDataset(x, y), bs=n, device='cpu')
    return Learner(dls, nn.Linear(n, 2, bias=False), CrossEntropyLossFlat(), metrics=accuracy)

def right_on(learn, items):
    "Weights of `learn`'s lookup model that classify exactly `items` right"
    w = torch.zeros(2, learn.model.in_features)
    w[1] = 1.; w[1, list(items)] = -1.   # class 0 wins on `items`, class 1 elsewhere
    return {'weight': w}

REF = range(10)   # the reference gets items 0-9 right

@pytest.mark.parametrize('cand,kept', [
    (range(10), 'ref'),                 # a tie: the reference stays
    (range(14), 'ref'),                 # 4 wins to 0: p = 1/16, not beyond chance
    (range(15), 'cand'),                # 5 wins to 0: p = 1/32 < 0.05, it replaces the reference
    ([*range(3, 10), *range(10, 18)], 'ref'),  # 8 wins, 3 losses: p = 0.11
    (range(7), 'ref'),                  # worse: never kept
])
def test_choice_beyond_chance(cand, kept):
    learn = lookup_learner()
    name, rows, why = choose_weights(learn, {'ref': right_on(learn, REF), 'cand': right_on(learn, cand)}, 'accuracy')
    assert (name, why) == (kept, None)
    c = rows[1]
    wins, losses = len(set(cand) - set(REF)), len(set(REF) - set(cand))
    assert (c['wins'], c['losses']) == (wins, losses) and c['p'] == pytest.approx(sum(math.comb(wins+losses, k) for k in range(wins, wins+losses+1))/2**(wins+losses))
    assert learn.validate()[1] == pytest.approx(len(cand if kept == 'cand' else REF)/20)   # the learner holds the weights kept

def test_choice_ranks_those_beyond_chance():
    "Of the candidates that beat the reference beyond chance the best on the metric is kept; one that does not, however good, is not"
    learn = lookup_learner()
    cands = {'ref': right_on(learn, REF), 'a': right_on(learn, range(15)),    # 5 wins to 0 (p = 0.031), accuracy 0.75
             'b': right_on(learn, range(16)),                                 # 6 wins to 0 (p = 0.016), accuracy 0.80
             'c': right_on(learn, [*range(4, 10), *range(10, 20)])}         # 10 wins to 4 (p = 0.090), accuracy 0.80: not beyond chance
    name, rows, _ = choose_weights(learn, cands, 'accuracy')
    assert name == 'b' and [r['p'] < 0.05 for r in rows[1:]] == [True, True, False], rows
    del cands['b']
    assert choose_weights(learn, cands, 'accuracy')[0] == 'a'   # c validates better than a, but not beyond chance

def test_harmful_fine_tune_gives_the_head_back():
    "An LR of 1000 wrecks fine-tuning (divergence check off, so the broken epochs finish): a head is kept, and validates as the floor"
    set_seed(0)
    learn = synth_staged_learner(3, n=512)
    with learn.no_bar(), learn.no_logging():
        r = quiet(lambda: learn.staged_fine_tune(recipe='auto', lr=1000., epochs=2, tracker=RunTracker(ckpt_dir=False, diverge=None, rollback=None)))
    c = learn.recipe_candidates
    kept = c.accuracy.idxmax()
    assert 'head' in kept and 'mix' not in kept and c.p[kept] < 0.05, c
    assert learn.validate()[1] == pytest.approx(r.floor) and r.ceiling == r.floor

def plan(learn, **kw): return learn.stage_plan(recipe='auto', **kw)

def test_recipe_plan_parameters():
    "The documented defaults: a 20-epoch head at 1e-2 (warm-up 0.3, div 25, body frozen), then 3 epochs of the whole model at slice(1e-4, 1e-3) (warm-up 0.3, div 5)"
    p = plan(synth_staged_learner(4))
    assert [(s.name, s.n_train, s.epochs, s.bn) for s in p] == [('head', 1, 20, 'freeze'), ('unfrozen', 4, 3, 'train')]
    np.testing.assert_allclose(p[0].lrs[-1], 1e-2)
    np.testing.assert_allclose(p[1].lrs, [1e-4, 1e-4*10**(1/3), 1e-4*10**(2/3), 1e-3])   # lr_mult 10 from the input group to the head
    assert [(s.pct_start, s.div) for s in p] == [(0.3, 25.), (0.3, 5.)]

@pytest.mark.parametrize('per_class,head', [(15, False), (16, True)])
def test_few_shot_rule(per_class, head):
    "Fewer than 16 training items per class: no head stage (the best weight-decay try is the head); 16 or more: the head stage"
    assert [s.name for s in plan(synth_staged_learner(3, n=2*per_class, bs=4))] == ['head', 'unfrozen'][1-head:]

def test_no_head_and_no_tries():
    "freeze_epochs=0 with wd given: no weight-decay tries and no head stage, so fine-tuning starts from the head as it is, and the report says so"
    set_seed(0)
    learn = synth_staged_learner(3, n=256)
    with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', freeze_epochs=0, wd=1e-2, epochs=1))
    assert [s.name for s in r] == ['unfrozen'] and r.choice('head') == 0 and 'starts from the head as it is' in r.decision('head').reason
    assert r.choice('weights') is None and 'no head was trained' in r.decision('weights').reason, r.decisions

def test_no_head_stage_when_asked():
    "freeze_epochs=0 on a task of 16 or more items per class: the best weight-decay try is the head, and the report says it was asked for"
    set_seed(0)
    learn = synth_staged_learner(3, n=256)
    with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', freeze_epochs=0, epochs=1))
    assert [s.name for s in r] == ['unfrozen'] and r.decision('head').reason == 'none: freeze_epochs=0 as given, the best weight-decay try is the head'
    assert r.choice('reference') == 0.5 and r.floor_name.startswith("the weight-decay try's head"), r.decisions

def test_head_stage_continues_the_best_try(monkeypatch):
    "The head stage starts from the best weight-decay try's head, not from the head the tries started from"
    tried, seen = {}, {}
    def sweep(*a, **kw):
        r = sweep_wd(*a, **kw); tried['best'] = r[2]; return r
    monkeypatch.setattr(fastai_ft.recipe, 'sweep_wd', sweep)
    class AtStart(Callback):
        def before_fit(self): seen.setdefault(self.stage.name, state_of(self.learn))
    set_seed(0)
    learn = synth_staged_learner(3, n=256)
    start = state_of(learn)
    with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', epochs=1, cbs=AtStart()))
    assert r.decision('head').evidence['from_best_try'] and 'from the best weight-decay try' in r.decision('head').reason, r.decision('head')
    head, best = seen['head'], tried['best']
    assert any(not torch.equal(best[k], start[k]) for k in best)   # the tries moved the head
    assert all(torch.equal(head[k], best[k]) for k in best), [k for k in best if not torch.equal(head[k], best[k])]

@pytest.mark.parametrize('n,wds,stages', [(2*8, (10., 1e-3), ['unfrozen']), (256, (1e-3, 10.), ['head', 'unfrozen'])])
def test_every_stage_at_the_chosen_wd(n, wds, stages):
    "Every stage trains at the weight decay the tries chose, with or without a head stage, not at the last try's, which the optimizer held after the tries"
    seen = []
    class SeenWD(Callback):
        def before_epoch(self): seen.append((self.stage.name, {h['wd'] for h in self.opt.hypers}))
    set_seed(0)
    learn = synth_staged_learner(3, n=n, bs=4)
    with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', wds=wds, epochs=1, cbs=SeenWD()))
    wd = r.choice('wd')
    assert [s.name for s in r] == stages and wd == wds[0], (r.decisions, [s.name for s in r])   # the first try wins (on 8 items per class the head shrunk by a weight decay of 10 does): the last try's is another
    assert [s for s,_ in seen] == [s.name for s in r for _ in range(s.epochs_run)] and all(w == {wd} for _,w in seen), seen

def test_tries_outside_fastais_loop(monkeypatch):
    "The weight-decay tries train on cached features outside fastai's loop, and the run is the one fastai's loop gives, bit for bit"
    def run(loop):
        if loop: monkeypatch.setattr(FeatureCacheCallback, 'loop_issue', lambda self, learn, cbs=None: 'forced')
        batches, fit_heads = [], fastai_ft.recipe.AutoRecipe.fit_heads
        def counted(self):   # the training batches fastai's loop runs during the tries
            one = Learner.one_batch
            monkeypatch.setattr(Learner, 'one_batch', lambda l, i, b: (batches.append(l.training), one(l, i, b))[1])
            try: return fit_heads(self)
            finally: monkeypatch.setattr(Learner, 'one_batch', one)
        monkeypatch.setattr(fastai_ft.recipe.AutoRecipe, 'fit_heads', counted)
        set_seed(0)
        learn = synth_staged_learner(3, n=256)
        with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', epochs=1))
        monkeypatch.undo()
        return sum(batches), [(d.part, d.choice, d.evidence) for d in r.decisions], state_of(learn), learn.stage_history
    (n0, d0, w0, h0), (n1, d1, w1, h1) = run(loop=False), run(loop=True)
    assert n0 == 0 and n1 == 3*10*256//32, (n0, n1)   # 3 tries of 10 epochs, 8 batches each, in fastai's loop only when forced
    assert d0 == d1
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert h0.drop(columns='time', errors='ignore').equals(h1.drop(columns='time', errors='ignore'))

def test_head_batches_on_cached_features():
    "The cached head epochs take batches of at least 32 items (all of them when fewer), whatever the DataLoaders' batch size"
    class Sizes(Callback):
        def __init__(self): self.seen = {}
        def before_batch(self):
            if self.training: self.seen.setdefault(self.stage.name, []).append(len(self.xb[0]))
    set_seed(0)
    learn, sizes = synth_staged_learner(3, n=256, bs=8), Sizes()
    with learn.no_bar(), learn.no_logging(): quiet(lambda: learn.staged_fine_tune(recipe='auto', freeze_epochs=2, epochs=1, cbs=sizes))
    assert set(sizes.seen['head']) == {32} and len(sizes.seen['head']) == 2*256//32, sizes.seen['head']
    assert set(sizes.seen['unfrozen']) == {8}   # the fine-tuning stage keeps the DataLoaders' own

def test_drift_threshold():
    "The drift is the loss batch statistics add, in units of the loss of guessing; above 2.4 the body keeps its statistics"
    unit = math.log(2)
    gap = lambda drift: BNGap(0.1, 0.1 + drift*unit, 0.)
    assert [choose_bn(gap(d), unit).choice for d in (0.5, 2.3, 2.5, 3.2)] == ['train', 'train', 'eval', 'eval']

def test_far_budget(monkeypatch):
    "A task far from the pretraining (here every drift counts as far) fine-tunes 12 epochs with bn='eval', and the fine-tuned weights are the reference"
    monkeypatch.setattr(fastai_ft.callback.bn, 'FAR_DRIFT', -1e9)
    set_seed(0)
    learn = synth_staged_learner(3, n=256)
    with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', freeze_epochs=2))
    assert [(s.name, s.epochs_run, s.bn) for s in r] == [('head', 2, 'freeze'), ('unfrozen', 12, 'eval')]
    np.testing.assert_allclose(r[1].plan.lrs, [1e-4, 10**-3.5, 1e-3])
    assert learn.recipe_candidates.index[0] == 'the fine-tuned weights' and r.choice('reference') == 1
    assert r.decision('fine_tune').evidence['budget'] == 'far' and r.choice('bn') == 'eval'

class Draws(RandTransform):
    "Draws a random number for every batch, train or valid, as fastai's flips do on validation batches, and changes nothing"
    split_idx,order = 0,99
    def __init__(self): super().__init__(p=0.5)
    def encodes(self, x): return x

def test_final_choice_reads_the_last_validation_batches():
    """A validation pipeline that draws random numbers runs at every fine-tuning epoch (skipping it would change the run),
    but not for the final choice, the run's last step: its candidates read the batches of the run's last validation"""
    class PipelinePasses(Callback):
        order = 99   # after ValidBatchesCallback, which swaps in kept batches
        def __init__(self): self.n = 0
        def before_validate(self): self.n += self.learn.dl is self.learn.dls.valid
    set_seed(0)
    learn, passes = synth_staged_learner(3, n=256), PipelinePasses()
    learn.dls.valid.after_batch.add(Draws())
    learn.add_cb(passes)
    with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', freeze_epochs=2, epochs=2))
    assert r[-1].epochs_run == 2 and len(learn.recipe_candidates) > 2   # the fine-tuned weights and a mix needed the inputs
    assert passes.n == 2, passes.n   # one pass through the pipeline per fine-tuning epoch, none in the final choice

def test_final_choice_reads_the_last_outputs(monkeypatch):
    """The fine-tuned weights are those the run's last validation scored: the final choice reads the model's outputs of
    that validation instead of running the model again, and scores them exactly as a pass over the inputs does"""
    seen, choose = {}, AutoRecipe.choose
    def counted(self, report):
        calls = seen['calls'] = []
        h = self.learn.model[0].register_forward_hook(lambda *a: calls.append(1))   # the body
        try: return choose(self, report)
        finally: h.remove(); seen['tuned'] = self.ends.kept['tuned'][2]
    monkeypatch.setattr(AutoRecipe, 'choose', counted)
    set_seed(0)
    learn = synth_staged_learner(3, n=256)
    with learn.no_bar(), learn.no_logging(): quiet(lambda: learn.staged_fine_tune(recipe='auto', freeze_epochs=2, epochs=2))
    c = learn.recipe_candidates
    assert {'the fine-tuned weights', 'the 0.5 mix of the head and the fine-tuned weights (WiSE-FT)'} <= set(c.index), c
    assert len(seen['calls']) == len(learn.dls.valid), seen   # one pass over the inputs, the mix's; the heads read cached features
    load_state(learn, seen['tuned'])
    assert valid_scores(learn) == c.loc['the fine-tuned weights', ['valid_loss', 'accuracy']].to_dict()

def test_drift_reads_cached_features(monkeypatch):
    """With random training transforms the cache holds a pass with the validation transforms: the drift reads the head's
    loss in inference mode from it, so the body runs on the drift's batches once, with batch statistics, and the run is
    the one two passes give, bit for bit"""
    def run(cached):
        if not cached: monkeypatch.setattr(fastai_ft.recipe, 'draw_order', lambda dl: None)
        seen, drift = [], fastai_ft.recipe.AutoRecipe.drift
        def counted(self):
            bn = next(m for m in self.learn.model[0].modules() if isinstance(m, nn.BatchNorm1d))   # the body's first
            h = bn.register_forward_hook(lambda m, *a: seen.append(m.training))
            try: return drift(self)
            finally: h.remove()
        monkeypatch.setattr(fastai_ft.recipe.AutoRecipe, 'drift', counted)
        set_seed(0)
        learn = synth_staged_learner(3, n=256)
        learn.dls.train.after_batch.add(Draws())   # random training transforms: a clean cached pass, then an augmented one
        learn.dls.train_ds.split_idx = 0           # (as fastai's Datasets mark their training split)
        assert random_tfms(learn.dls.train) == ['Draws'] and not random_tfms(learn.dls.valid)
        with learn.no_bar(), learn.no_logging(): r = quiet(lambda: learn.staged_fine_tune(recipe='auto', epochs=1))
        monkeypatch.undo()
        return seen, [(d.part, d.choice, d.evidence) for d in r.decisions], state_of(learn)
    (s0, d0, w0), (s1, d1, w1) = run(cached=True), run(cached=False)
    assert s0 == [True, True] and s1 == [False, False, True, True], (s0, s1)   # 2 batches of 32 items
    assert dict((p, e) for p, _, e in d0)['bn']['eval_loss'] > 0
    assert d0 == d1
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
