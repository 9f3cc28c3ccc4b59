"""Why the recipe's probe head and the benchmark's probe differ on the same features. Development seeds only.
Both fit L2-penalised logistic regression on the average-pooled body outputs of the clean training pass, C from the same
grid chosen on validation. Per seed: validation accuracy at each C and, for the fit each variant keeps, the test accuracy.
Variants: the recipe's `fit_probe` (a softmax over c rows, L-BFGS in torch); the same with the grid halved for two
classes (a softmax with two penalised rows at C is the binary model with one weight vector at 2C, scikit-learn's
parametrisation); scikit-learn's LogisticRegression as the benchmark calls it (tol=1e-4), and at tol=1e-8.
Every variant breaks ties of validation accuracy by validation loss (the recipe's rule).
    python benchmarks/experiments/probe-head/probe_sklearn.py hymenoptera-8shot 0 1 2 ...   # rows to probe_sklearn.jsonl"""
import sys, json, warnings; from pathlib import Path; sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import torch, numpy as np
torch.set_num_threads(1)
from battery import TASKS
from recipe import fresh_learner
from fastai.vision.all import *
from fastai_ft.recipe import fit_probe
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
warnings.filterwarnings('ignore')
CS = (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30)
task, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
for seed in seeds:
    set_seed(seed)
    dls, tdl = TASKS[task](seed)
    body = fresh_learner(dls, 'lite0', seed).model[0].eval()
    def feats(dl):
        with torch.no_grad(): fs = [(body(x).mean((2, 3)), y) for x, y in dl]
        return torch.cat([a for a, _ in fs]).as_subclass(Tensor), torch.cat([b for _, b in fs]).as_subclass(Tensor).long()
    (xt, yt), (xv, yv), (xs, ys) = [feats(dl) for dl in (dls.test_dl(dls.train_ds.items, with_labels=True), dls.valid, tdl)]
    c, out = len(dls.vocab), {}
    acc = lambda W, b, x, y: float(((x@W.T + b).argmax(1) == y).float().mean())
    for name, scale in (('fit_probe', 1), ('fit_probe, binary C as sklearn', 2 if c == 2 else 1)):
        W, b, C, rows = fit_probe(xt, yt, xv, yv, c, Cs=[C/scale for C in CS])
        out[name] = dict(C=C*scale, valid=rows[[r['C'] for r in rows].index(C)]['accuracy'], test=acc(W, b, xs, ys),
                         per_c=[round(r['accuracy'], 4) for r in rows])
    for tol in (1e-4, 1e-8):
        rows = []
        for C in CS:
            m = LogisticRegression(C=C, max_iter=5000, tol=tol).fit(xt.numpy(), yt.numpy())
            rows.append(dict(C=C, acc=m.score(xv.numpy(), yv.numpy()), loss=log_loss(yv.numpy(), m.predict_proba(xv.numpy()), labels=m.classes_),
                             test=m.score(xs.numpy(), ys.numpy())))
        r = min(rows, key=lambda r: (-r['acc'], r['loss']))
        out[f'sklearn tol={tol:g}'] = dict(C=r['C'], valid=r['acc'], test=r['test'], per_c=[round(r['acc'], 4) for r in rows])
    line = dict(task=task, seed=seed, n_valid=len(yv), n_test=len(ys), **out)
    print(json.dumps(line), flush=True)
    with open(Path(__file__).parent/'probe_sklearn.jsonl', 'a') as f: f.write(json.dumps(line) + '\n')
