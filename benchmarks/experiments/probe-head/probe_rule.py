"""Which probe head for few-shot? Development seeds only. The probe on the average-pooled or the concatenated [max, avg]
features (the head's input), the clean training pass alone or with the 2 augmented passes the recipe caches, and C
chosen on validation by accuracy then loss (the recipe), by accuracy then the C nearest 1 (the benchmark's probe), by
loss alone, or fixed at 1. sklearn's LogisticRegression (the same L2 objective as fastai_ft.recipe.fit_probe).
    python benchmarks/experiments/probe-head/probe_rule.py hymenoptera-8shot 0 1 2 ... 19"""
import sys, json, warnings; sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
import torch, numpy as np
torch.set_num_threads(1)
from battery import TASKS
from recipe import fresh_learner
from fastai.vision.all import *
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
warnings.filterwarnings('ignore')
CS = (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30)
def feats(body, dl):
    with torch.no_grad(): fs = [(body(x), y) for x, y in dl]
    f = torch.cat([a for a, _ in fs]); y = torch.cat([b for _, b in fs])
    return dict(avg=f.mean((2, 3)).numpy(), cat=torch.cat([f.amax((2, 3)), f.mean((2, 3))], 1).numpy()), y.numpy()
RULES = {'acc, then loss': lambda r: (-r['acc'], r['loss']), 'acc, then C nearest 1': lambda r: (-r['acc'], abs(np.log10(r['C']))),
         'loss': lambda r: r['loss'], 'C=1': lambda r: r['C'] != 1}
task, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
for seed in seeds:
    set_seed(seed)
    dls, tdl = TASKS[task](seed)
    body = fresh_learner(dls, 'lite0', seed).model[0].eval()
    (ft, yt), (fv, yv), (fs, ys) = [feats(body, dl) for dl in (dls.test_dl(dls.train_ds.items, with_labels=True), dls.valid, tdl)]
    augs = [feats(body, dls.train.new(shuffle=False, drop_last=False)) for _ in range(2)]
    out = {}
    for kind in ('avg', 'cat'):
        for data in ('clean', 'clean+2aug'):
            X = np.concatenate([ft[kind]] + ([a[kind] for a, _ in augs] if data != 'clean' else []))
            Y = np.concatenate([yt] + ([b for _, b in augs] if data != 'clean' else []))
            rows = []
            for C in CS:
                m = LogisticRegression(C=C, max_iter=5000).fit(X, Y)
                rows.append(dict(C=C, acc=m.score(fv[kind], yv), loss=log_loss(yv, m.predict_proba(fv[kind]), labels=m.classes_), test=m.score(fs[kind], ys)))
            for rule, key in RULES.items():
                r = min(rows, key=key); out[f'{kind} {data} | {rule}'] = (round(r['test'], 4), r['C'])
    print(json.dumps(dict(task=task, seed=seed, **out)), flush=True)
