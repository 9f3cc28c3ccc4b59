"staged_fine_tune beyond the vision demo: ULMFiT on a text classifier, a timm model's real stages, learners with no pretrained body (issue 11, item 4)."
import contextlib, io
import numpy as np, pandas as pd, pytest, torch
from fastai.basics import Learner, Callback, set_seed, params, accuracy
from fastai_ft.all import *

def quiet(learn, *args, **kw):
    with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()): return learn.staged_fine_tune(*args, **kw)

def text_dls(n=128, seed=0):
    "A tiny sentiment data set built in code: six filler words and two words that carry the label"
    from fastai.text.all import DataBlock, TextBlock, CategoryBlock, ColReader, ColSplitter, BaseTokenizer
    rng = np.random.default_rng(seed)
    pos, neg = 'great fun lovely superb moving brilliant'.split(), 'dull boring awful tedious weak clumsy'.split()
    filler = 'the film was and a story with acting plot'.split()
    def sent(y):
        w = [*rng.choice(filler, 6), *rng.choice(pos if y else neg, 2)]; rng.shuffle(w); return ' '.join(w)
    ys = rng.integers(0, 2, n)
    df = pd.DataFrame(dict(text=[sent(y) for y in ys], label=np.where(ys, 'pos', 'neg'), is_valid=np.arange(n) >= n*3//4))
    blk = DataBlock(blocks=(TextBlock.from_df('text', tok=BaseTokenizer(), n_workers=0, min_freq=1), CategoryBlock),
                    get_x=ColReader('text'), get_y=ColReader('label'), splitter=ColSplitter())
    return blk.dataloaders(df, bs=16, num_workers=0, device='cpu')

def text_learner(dls):
    from fastai.text.all import text_classifier_learner, AWD_LSTM
    set_seed(0)
    return text_classifier_learner(dls, AWD_LSTM, pretrained=False, metrics=accuracy, config=dict(emb_sz=32, n_hid=64, n_layers=3))

def weights(learn): return [p.detach().clone() for p in learn.model.parameters()]

def test_ulmfit_gradual_unfreezing():
    "unfreeze='gradual' with lr_decay=2.6: one group more per stage, neighbouring groups' LRs 2.6 apart, frozen groups untouched"
    learn = text_learner(text_dls())
    assert len(group_sizes(learn)) == 5   # awd_lstm_clas_split: embeddings, three LSTM layers, head
    groups = [{id(p) for p in g} for g in learn.opt.param_lists]
    seen = []
    class Snap(Callback):
        def after_stage(self): seen.append(weights(self.learn))
    before = weights(learn)
    r = quiet(learn, 1, base_lr=2e-2, unfreeze='gradual', lr_decay=2.6, cbs=Snap())
    assert [(s.name, s.n_train) for s in r] == [('frozen', 1), ('last2', 2), ('last3', 3), ('last4', 4), ('unfrozen', 5)]
    lrs = np.array(learn.stage_recorder.lrs)
    top = lrs[learn.stage_recorder.starts[-1]:].max(0)           # the unfrozen stage's peak LR of each group
    np.testing.assert_allclose(top[1:]/top[:-1], 2.6, rtol=1e-6)
    ps = list(learn.model.parameters())
    for k, w in enumerate(seen):
        frozen = set().union(*groups[:5-r[k].n_train])
        for p, a, b in zip(ps, before, w):
            if id(p) in frozen: assert torch.equal(a, b), f"stage {r[k].name} changed a frozen group"
    assert not torch.equal(before[0], seen[-1][0]), "the embedding never trained"

def test_ulmfit_matches_fastais_recipe():
    "fastai's ULMFiT tutorial (freeze_to(-2), -3, unfreeze; slice(lr/2.6**4, lr)) and the same plan as stages give identical weights"
    dls, recipe = text_dls(), [(1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), (5, 2, 1e-3)]
    ref = text_learner(dls)
    with ref.no_bar(), ref.no_logging():
        set_seed(1)
        for n, ep, lr in recipe:
            ref.freeze_to(-n); ref.fit_one_cycle(ep, lr if n == 1 else slice(lr/2.6**4, lr))
    ours = text_learner(dls)
    plan = [Stage('frozen', 1, 1, 2e-2, pct_start=0.25)] + [
            Stage(name, n, ep, disc_lrs(slice(lr), 5, lr_decay=2.6), pct_start=0.25) for name, (n, ep, lr) in zip(['last2', 'last3', 'unfrozen'], recipe[1:])]
    set_seed(1)
    quiet(ours, 2, plan=plan)
    for a, b in zip(weights(ref), weights(ours)): assert torch.equal(a, b)

def tiny_images(path, n=6, size=32):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split in ('train', 'valid'):
        for c in ('a', 'b'):
            (path/split/c).mkdir(parents=True)
            for i in range(n): Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path/split/c/f'{i}.png')
    from fastai.vision.all import ImageDataLoaders, Resize
    return ImageDataLoaders.from_folder(path, item_tfms=Resize(size), bs=4, num_workers=0, device='cpu')

def test_timm_resnet_stages(tmp_path):
    "A timm name through vision_learner with auto_split: the groups are timm's stem+layer1, layer2, layer3, layer4 and the head, and a gradual run trains exactly them"
    pytest.importorskip('timm')
    from fastai.vision.all import vision_learner
    set_seed(0)
    learn = vision_learner(tiny_images(tmp_path), 'resnet18', pretrained=False, splitter=auto_split, metrics=accuracy)
    tm = learn.model[0].model
    expect = [[tm.conv1, tm.bn1, tm.layer1], [tm.layer2], [tm.layer3], [tm.layer4], [learn.model[1]]]
    learn.create_opt()
    got = [{id(p) for p in g} for g in learn.opt.param_lists]
    assert got == [{id(p) for m in ms for p in params(m)} for ms in expect]
    convs = {id(p): n for n, p in learn.model.named_parameters() if 'bn' not in n and 'downsample.1' not in n}
    seen = []
    class Snap(Callback):
        def after_stage(self): seen.append(weights(self.learn))
    before = weights(learn)
    r = quiet(learn, 1, unfreeze='gradual', cbs=Snap())
    assert [s.n_train for s in r] == [1, 2, 3, 4, 5]
    ps = list(learn.model.parameters())
    for k, w in enumerate(seen):   # BatchNorm weights train in frozen groups too (fastai's train_bn), so only the others are compared
        frozen = set().union(*got[:5-r[k].n_train])
        changed = {id(p) for p, a, b in zip(ps, before, w) if id(p) in convs and not torch.equal(a, b)}
        assert not changed & frozen, f"stage {r[k].name} changed a frozen group"
        assert {i for i in set().union(*got[5-r[k].n_train:]) if i in convs} <= changed, f"stage {r[k].name} left a trained group alone"

def test_timm_without_auto_split_warns_on_gradual(tmp_path):
    "fastai's default_split gives a timm model 2 groups, so 'gradual' would silently be 'all': the user is told how to get stages"
    pytest.importorskip('timm')
    from fastai.vision.all import vision_learner
    learn = vision_learner(tiny_images(tmp_path), 'resnet18', pretrained=False)
    with pytest.warns(UserWarning, match='splitter=auto_split'): plan = learn.stage_plan(1, unfreeze='gradual')
    assert len(plan) == 2

def tabular_learner_(**kw):
    from fastai.tabular.all import TabularDataLoaders, tabular_learner, Categorify, Normalize
    rng = np.random.default_rng(0)
    df = pd.DataFrame(dict(a=rng.normal(size=64), b=rng.choice(['x', 'y', 'z'], 64)))
    df['y'] = (df.a > 0).astype(int)
    dls = TabularDataLoaders.from_df(df, procs=[Categorify, Normalize], cat_names=['b'], cont_names=['a'], y_names='y',
                                     y_block=None, bs=16, valid_idx=list(range(48, 64)), device='cpu', num_workers=0)
    set_seed(0)
    return tabular_learner(dls, layers=[16, 8], **kw)

def test_tabular_has_no_body_to_freeze():
    "fastai's fine_tune trains a tabular learner whole (one group, nothing to freeze): staged_fine_tune runs that, and says why once"
    import warnings
    learn = tabular_learner_()
    with pytest.warns(UserWarning) as ws:
        with learn.no_bar(), learn.no_logging(): quiet(learn, 1)
    msgs = [str(w.message) for w in ws if 'parameter group' in str(w.message)]
    assert len(msgs) == 1 and 'TabularModel has no pretrained body to freeze' in msgs[0] and '\n' not in msgs[0], msgs

def test_tabular_with_a_splitter_runs_stages():
    "Given a splitter (embeddings, hidden layers, output layer), a tabular learner runs stages that respect its groups"
    split = lambda m: [params(m.embeds) + params(m.bn_cont), params(m.layers[:-1]), params(m.layers[-1])]
    learn = tabular_learner_(splitter=split)
    emb = learn.model.embeds[0].weight.detach().clone()
    class Check(Callback):
        def after_stage(self):
            if self.stage.name == 'frozen': assert torch.equal(self.model.embeds[0].weight, emb)
    r = quiet(learn, 1, unfreeze='gradual', cbs=Check())
    assert [s.n_train for s in r] == [1, 2, 3] and not torch.equal(learn.model.embeds[0].weight, emb)
