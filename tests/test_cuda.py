"""The paths only a GPU runs: staged runs on CUDA, with fastai's `to_fp16` and `to_bf16` (on the CPU fastai switches its
autocast off, so tests/test_interplay.py can only show that they take part), the feature cache in GPU memory, and
recipe='auto' on CUDA. Without a CUDA device every test here skips, and pytest's summary says why.

    python -m pytest tests/test_cuda.py -n 0 -v     # on a machine with a GPU"""
import contextlib, io, random
import pytest, torch
from fastai.basics import Callback, set_seed
from fastai_ft.all import *
from kinds import single_label

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason='cuda: no CUDA device here (torch.cuda.is_available() is False)')]

def on_gpu(path):
    "tests/kinds.py's vision learner (fastai's vision_learner, resnet18, tiny images) on the GPU, seeded"
    learn, args = single_label(path)
    learn.dls.to('cuda'); learn.model.cuda()
    set_seed(0, reproducible=True)
    for dl in learn.dls.loaders: dl.rng = random.Random(0)
    return learn, args

def quiet(learn, f):
    with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()): return f()

def test_staged_equals_fine_tune_on_cuda(tmp_path):
    (a, args), (b, _) = on_gpu(tmp_path/'a'), on_gpu(tmp_path/'b')
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    quiet(a, lambda: a.fine_tune(*args)); set_seed(0, reproducible=True)
    for dl in b.dls.loaders: dl.rng = random.Random(0)
    quiet(b, lambda: b.staged_fine_tune(*args))
    for (k, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=k)

class Dtypes(Callback):
    "The dtype of the model's output in each stage's training batches, before fastai's MixedPrecision casts it back"
    order = 5   # MixedPrecision (order 10) turns the prediction to float32 in its own after_pred
    def __init__(self): self.seen = {}
    def after_pred(self):
        if self.training: self.seen.setdefault(self.stage.name, set()).add(self.pred.dtype)

@pytest.mark.parametrize('mp,dtype', [('to_fp16', torch.float16), ('to_bf16', torch.bfloat16)])
def test_mixed_precision_stages(mp, dtype, tmp_path):
    learn, _ = on_gpu(tmp_path)
    learn = getattr(learn, mp)()
    spy = Dtypes()
    r = quiet(learn, lambda: learn.staged_fine_tune(2, tracker=RunTracker(ckpt_dir=False), cbs=spy))
    assert spy.seen == {'frozen': {dtype}, 'unfrozen': {dtype}}, spy.seen
    assert all(torch.isfinite(p).all() for p in learn.model.parameters())
    assert learn.validate()[0] == pytest.approx(r.best_at['value'], rel=1e-3)   # the run's best weights, in float32

def test_feature_cache_in_gpu_memory(tmp_path):
    learn, _ = on_gpu(tmp_path)
    learn.freeze()
    cb = FeatureCacheCallback(aug='off', verbose=False)
    quiet(learn, lambda: learn.fit(2, cbs=[BNPolicyCallback('freeze'), cb]))
    assert cb.tdl.feats.device.type == 'cuda' and cb.vdl.feats.device.type == 'cuda'   # a few MB: far under half the free memory

def test_recipe_on_cuda(tmp_path):
    learn, _ = on_gpu(tmp_path)
    r = quiet(learn, lambda: learn.staged_fine_tune(recipe='auto', epochs=1, freeze_epochs=2))
    assert [s.name for s in r] == ['head', 'unfrozen'] and len(r.decisions) > 0
    assert all(p.device.type == 'cuda' for p in learn.model.parameters())
    s = dict(zip(['valid_loss', *[m.name for m in learn.metrics]], learn.validate()))
    assert r.ceiling == pytest.approx(s[r.metric], abs=1e-5)   # the weights held validate as the report says
