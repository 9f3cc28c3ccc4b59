"""recipe='auto' beyond single-label: held-out runs on real images for multi-label, regression and segmentation.

    python benchmarks/kinds.py --tasks hymenoptera-multilabel digits-regression textures-segmentation --seeds 3 [--first-seed 0]
    python benchmarks/kinds.py --summary          # one table across the kinds-*.json result files (runs nothing)

Per seed a fresh split: validation decides everything (trackers, the probe's regularisation, every choice of the
recipe), test only scores. Every config of a seed gets the same DataLoaders and the same seeded fresh learner
(recipe.py's `seed_run`). Model: the pretrained EfficientNet-Lite0 (`lite_stats` normalisation).

    hymenoptera-multilabel  the photos as multi-label: MultiCategoryBlock, y = [the folder], BCEWithLogitsLossFlat (fastai's
                            pick), accuracy_multi at 0.5; validation 20% of train/ per seed (recipe.py's split), test val/
                            (153); 128 px, bs 32, aug_transforms; lite_learner
    digits-regression       sklearn's 1797 8x8 digits, y = digit/9 (float), MSELossFlat, rmse (lower is better); battery.py's
                            stratified 1077/360/360 per seed, 48 px, bs 64, no augmentation; lite_learner's body with
                            fastai's create_head(1280, 1, y_range=(-0.05, 1.05))
    textures-segmentation   128x128 composites of skimage's brick, grass and gravel (512x512 grayscale, as RGB): 1 or 2
                            random straight lines cut each image into 2-4 regions, each filled from one texture, mask = the
                            texture (3 classes); each texture is cut into 16 blocks of 128x128, per seed 8 go to train, 4 to
                            valid, 4 to test, so no source pixel is in two splits; 192/64/96 images, bs 16, aug_transforms;
                            fastai's DynamicUnet on Lite0's stem and seven MBConv stages (320 channels, without the final
                            1x1 conv to 1280: with it the decoder has 78M weights instead of 6.3M and a training step is
                            5 times slower on CPU, 6.7 s instead of 1.3 s per 8 images on one thread),
                            CrossEntropyLossFlat(axis=1), pixel accuracy; six groups as lite_split's (five of the encoder,
                            then the decoder)

Configs: fastai's `fine_tune(3)`; the head-only floor (multi-label: one-vs-rest logistic regression, regression: ridge,
on the frozen body's average-pooled features, regularisation chosen on validation, as recipe.linear_probe; segmentation:
`freeze()` then `fit_one_cycle(10, 1e-3)`, the decoder alone); `staged_fine_tune(recipe='auto')` with no arguments;
and, as a reference, the best constant guess fitted on train (no model).
Writes benchmarks/results/kinds-<task>[-NAME].json after every run (record.py: the command, commit and seeds, then args
and rows) and prints each task's table at its end."""
import argparse, json, os, statistics as st, time, warnings
from pathlib import Path
from fastai.vision.all import *
import fastai_ft
from fastai_ft.all import *
from fastai_ft.models import lite_learner, lite_stats, lite_split, efficientnet_lite
from recipe import seed_run
from battery import HYMENOPTERA, photo, digits_files, split
from record import save

ROOT = Path(__file__).parent
FT, FLOOR, AUTO = 'fastai fine_tune(3)', 'head-only floor', "recipe='auto'"
TEXTURES = ('brick', 'grass', 'gravel')

class Task:
    "A task of one seed: its DataLoaders, test DataLoader, a factory of fresh seeded learners, and its test scores"
    def __init__(self, dls, tdl, new, score, lower, what):
        self.dls,self.tdl,self.new,self.score,self.lower,self.what = dls,tdl,new,score,lower,what
    def learner(self, seed):
        seed_run(self.dls, seed)
        return self.new(self.dls)

def outputs(model, dl):
    "Raw outputs and targets of `model` on `dl`, in eval mode, outside fastai's loop (callbacks untouched)"
    modes = [(o, o.training) for o in model.modules()]; model.eval()
    with torch.no_grad(): ps, ys = zip(*[(model(x).float(), y) for x, y in dl])
    for o, t in modes: o.training = t
    return torch.cat(ps).as_subclass(Tensor), torch.cat(ys).as_subclass(Tensor)

def features(body, dl):
    "The frozen body's average-pooled features and the targets, as numpy"
    f, y = outputs(nn.Sequential(body, nn.AdaptiveAvgPool2d(1), nn.Flatten()), dl)
    return f.numpy(), y.numpy()

def probe_fits(learn, dls, tdl, fit, score, grid, lower):
    "A linear model `fit(X, y, c)` on the body's features of train (validation transforms); `c` in `grid` chosen on validation's primary score (ties: nearest 1)"
    body = learn.model[0]
    (Xt, yt), (Xv, yv), (Xs, ys) = [features(body, dl) for dl in (dls.test_dl(dls.train_ds.items, with_labels=True), dls.valid, tdl)]
    fits = [(c, fit(Xt, yt, c)) for c in grid]
    first = lambda d: next(iter(d.values()))
    vs = [first(score(tensor(m(Xv)), tensor(yv))) for _, m in fits]
    i = min(range(len(grid)), key=lambda i: ((1 if lower else -1)*vs[i], abs(np.log10(grid[i]))))
    return score(tensor(fits[i][1](Xs)), tensor(ys)), vs[i], dict(c=grid[i], valid_by_c=dict(zip(map(str, grid), vs)))

# --- hymenoptera as multi-label
def multi_scores(pred, targ):
    "accuracy_multi at 0.5 (per photo and label), exact match per photo, and the argmax's accuracy"
    right = (pred > 0) == targ.bool()
    return dict(accuracy_multi=right.float().mean().item(), exact_match=right.all(1).float().mean().item(),
                argmax_accuracy=(pred.argmax(1) == targ.argmax(1)).float().mean().item())

def ovr_logistic(X, y, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    return OneVsRestClassifier(LogisticRegression(C=C, max_iter=5000)).fit(X, y).decision_function

def hymenoptera_multilabel(seed):
    db = DataBlock((ImageBlock, MultiCategoryBlock), get_items=lambda p: get_image_files(p/'train').filter(photo), get_y=lambda f: [parent_label(f)],
                   splitter=RandomSplitter(0.2, seed=seed), item_tfms=Resize(128), batch_tfms=[*aug_transforms(), Normalize.from_stats(*lite_stats)])
    set_seed(seed, reproducible=True)
    dls = db.dataloaders(HYMENOPTERA, bs=32, num_workers=0)
    tdl = dls.test_dl(get_image_files(HYMENOPTERA/'val').filter(photo), with_labels=True)
    return Task(dls, tdl, lambda dls: lite_learner(dls, 'lite0', metrics=partial(accuracy_multi, thresh=0.5)), multi_scores, False,
                dict(kind='multi-label', metric='accuracy_multi (thresh 0.5)', loss='BCEWithLogitsLossFlat', aug=True,
                     probe=dict(fit='one-vs-rest LogisticRegression', grid=(0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30), fn=ovr_logistic)))

# --- digits as regression
Y_RANGE = (-0.05, 1.05)

def regression_scores(pred, targ):
    "RMSE of digit/9, the same in digits, and how often the prediction rounds to the right digit"
    p, t = pred.view(-1).float(), targ.view(-1).float()
    rmse = (p - t).pow(2).mean().sqrt().item()
    return dict(rmse=rmse, rmse_digits=9*rmse, rounded_accuracy=((p*9).round().clamp(0, 9) == (t*9).round()).float().mean().item())

def ridge(X, y, alpha):
    from sklearn.linear_model import Ridge
    m = Ridge(alpha=alpha).fit(X, y)
    return lambda X: np.clip(m.predict(X), *Y_RANGE)   # the network's head is bounded by its SigmoidRange the same way

def lite_regressor(dls):
    "lite_learner's model with a one-output head ending in fastai's SigmoidRange(Y_RANGE), MSE loss, rmse"
    head = create_head(1280, 1, y_range=Y_RANGE)
    apply_init(head, nn.init.kaiming_normal_)
    learn = Learner(dls, nn.Sequential(efficientnet_lite('lite0'), head), loss_func=MSELossFlat(), metrics=rmse, splitter=lite_split)
    learn.model.to(memory_format=torch.channels_last)
    learn.freeze()
    return learn

def digits_regression(seed):
    fs, y = digits_files()
    trn, val, tst = split(y, 1077, 360, seed)   # battery.py's digits split of this seed
    db = DataBlock((ImageBlock, RegressionBlock), get_y=lambda f: float(f.parent.name)/9, splitter=IndexSplitter(range(len(trn), len(trn)+len(val))),
                   item_tfms=Resize(48), batch_tfms=Normalize.from_stats(*lite_stats))
    set_seed(seed, reproducible=True)
    dls = db.dataloaders(L(fs)[list(trn)] + L(fs)[list(val)], bs=64, num_workers=0)
    tdl = dls.test_dl(L(fs)[list(tst)], with_labels=True)
    return Task(dls, tdl, lite_regressor, regression_scores, True,
                dict(kind='regression', metric='rmse of digit/9 (lower is better)', loss='MSELossFlat', aug=False,
                     probe=dict(fit='Ridge', grid=(0.01, 0.1, 1, 10, 100, 1000), fn=ridge)))

# --- textures as segmentation
def seg_scores(pred, targ):
    "Pixel accuracy, and the mean over classes of their intersection over union"
    p, t = pred.argmax(1), targ.long()
    ious = [((p == c) & (t == c)).sum().item() / max(((p == c) | (t == c)).sum().item(), 1) for c in range(len(TEXTURES))]
    return dict(pixel_accuracy=(p == t).float().mean().item(), mean_iou=float(np.mean(ious)))

def pixel_accuracy(inp, targ): return (inp.argmax(1) == targ).float().mean()

def blocks_of(seed, size=128, n=(8, 4, 4)):
    "Per texture, its 16 disjoint size x size blocks dealt at random (per seed) to train, valid and test"
    import skimage.data as sd
    rng = np.random.default_rng(seed)
    out = [[], [], []]
    for name in TEXTURES:
        im = getattr(sd, name)()
        bs = [im[r:r+size, c:c+size] for r in range(0, im.shape[0]-size+1, size) for c in range(0, im.shape[1]-size+1, size)]
        cut = np.cumsum([0, *n])
        perm = rng.permutation(len(bs))
        for i in range(3): out[i].append([bs[j] for j in perm[cut[i]:cut[i+1]]])
    return out   # out[split][texture] = list of blocks

def composites(blocks, n, rng, size=128):
    "`n` images (n, size, size, 3) and masks from `blocks[texture]`: 1 or 2 random lines cut 2-4 regions, each one texture (at least 2 in an image)"
    yy, xx = np.mgrid[0:size, 0:size]
    ims, masks = [], []
    for _ in range(n):
        region = np.zeros((size, size), int)
        for _ in range(rng.integers(1, 3)):
            a, (px, py) = rng.uniform(0, np.pi), rng.uniform(size/4, 3*size/4, 2)
            region = 2*region + ((xx-px)*np.cos(a) + (yy-py)*np.sin(a) > 0)
        present = np.unique(region)
        while len(set((labels := rng.integers(0, len(TEXTURES), region.max()+1))[present])) < 2: pass
        mask, im = labels[region].astype(np.uint8), np.zeros((size, size), np.uint8)
        for r in present:   # each region from a random block of its texture, turned or flipped at random
            b = np.rot90(blocks[labels[r]][rng.integers(len(blocks[labels[r]]))], rng.integers(4))
            im = np.where(region == r, b[:, ::-1] if rng.integers(2) else b, im)
        ims.append(np.stack([im]*3, -1)); masks.append(mask)
    return np.stack(ims), np.stack(masks)

def unet_split(m):
    "lite_split's groups for a DynamicUnet on Lite0's encoder: five of the encoder, then the decoder"
    e = m[0]
    return L(e[0:3], e[3], e[4], e[5:7], e[7:], m[1:]).map(params)

def lite_unet(dls):
    "fastai's DynamicUnet on the pretrained Lite0 encoder (stem and seven MBConv stages), decoder trained from scratch"
    m = DynamicUnet(efficientnet_lite('lite0')[:-1], n_out=len(TEXTURES), img_size=(128, 128))
    learn = Learner(dls, m, loss_func=CrossEntropyLossFlat(axis=1), metrics=pixel_accuracy, splitter=unet_split)
    learn.model.to(memory_format=torch.channels_last)
    learn.freeze()
    return learn

SEG_N = (192, 64, 96)

def textures_segmentation(seed):
    rng = np.random.default_rng(1000 + seed)
    parts = [composites(b, n, rng) for b, n in zip(blocks_of(seed), SEG_N)]
    ims, masks = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    db = DataBlock((ImageBlock, MaskBlock(codes=list(TEXTURES))), get_x=lambda i: PILImage.create(ims[i]), get_y=lambda i: PILMask.create(masks[i]),
                   splitter=IndexSplitter(range(SEG_N[0], SEG_N[0]+SEG_N[1])), batch_tfms=[*aug_transforms(), Normalize.from_stats(*lite_stats)])
    set_seed(seed, reproducible=True)
    dls = db.dataloaders(list(range(SEG_N[0]+SEG_N[1])), bs=16, num_workers=0)
    tdl = dls.test_dl(list(range(SEG_N[0]+SEG_N[1], sum(SEG_N))), with_labels=True)
    return Task(dls, tdl, lite_unet, seg_scores, False,
                dict(kind='segmentation', metric='pixel accuracy', loss='CrossEntropyLossFlat(axis=1)', aug=True,
                     probe=dict(fit='freeze(); fit_one_cycle(10, 1e-3): the decoder alone')))

TASKS = {'hymenoptera-multilabel': hymenoptera_multilabel, 'digits-regression': digits_regression, 'textures-segmentation': textures_segmentation}

# --- configs: each (task, learn) -> (test scores, valid primary score, extra)
def trained(task, learn, extra=None):
    return task.score(*outputs(learn.model, task.tdl)), float(learn.validate()[1]), extra or {}

def fine_tune3(task, learn):
    learn.fine_tune(3)   # fastai's own
    return trained(task, learn)

def floor(task, learn):
    pr = task.what['probe']
    if 'fn' not in pr:   # segmentation: the decoder alone, trained
        learn.freeze(); learn.fit_one_cycle(10, 1e-3)
        return trained(task, learn, dict(how=pr['fit']))
    test, valid, extra = probe_fits(learn, task.dls, task.tdl, pr['fn'], task.score, pr['grid'], task.lower)
    return test, valid, dict(how=pr['fit'], **extra)

def auto(task, learn):
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        r = learn.staged_fine_tune(recipe='auto')
    cands = getattr(learn, 'recipe_candidates', None)
    h = getattr(learn, 'stage_history', None)
    extra = dict(decisions=r.decisions, metric=r.metric, floor=r.floor, floor_name=r.floor_name, final=r.ceiling,
                 stages=[dict(name=s.name, epochs=s.epochs_run, bn=s.bn, reason=s.reason, time=round(s.time, 1)) for s in r],
                 candidates=cands.reset_index().to_dict('records') if cands is not None else None,
                 history=h.to_dict('records') if h is not None else None,
                 warnings=[str(w.message) for w in ws if 'deprecated' not in str(w.message).lower()])   # not numpy's or torch's deprecations
    return trained(task, learn, extra)

def targets(dl): return torch.cat([y for _, y in dl]).as_subclass(Tensor)

def constant(task, learn=None):
    "The best guess that ignores the image, fitted on train: the mean (regression), each label's frequency (multi-label), each class's share of pixels (segmentation)"
    yt = targets(task.dls.test_dl(task.dls.train_ds.items, with_labels=True))
    def pred(y):
        if task.lower: return yt.float().mean().expand(len(y), 1)
        if yt.ndim == 2: return torch.logit(yt.float().mean(0).clamp(1e-4, 1-1e-4)).expand(len(y), -1)
        return torch.bincount(yt.flatten(), minlength=len(TEXTURES)).float().log()[None, :, None, None].expand(len(y), -1, *y.shape[1:])
    yv, ys = targets(task.dls.valid), targets(task.tdl)
    return task.score(pred(ys), ys), next(iter(task.score(pred(yv), yv).values())), dict(how=constant.__doc__)

GUESS = 'constant guess (reference)'
CONFIGS = {FT: fine_tune3, FLOOR: floor, AUTO: auto, GUESS: constant}

def run_one(task, name, seed):
    if name == GUESS: learn = Learner(task.dls, nn.Linear(1, 1), loss_func=MSELossFlat())   # no model: only for no_bar and no_logging
    else: learn = task.learner(seed)
    with learn.no_bar(), learn.no_logging():
        t = time.perf_counter()
        test, valid, extra = CONFIGS[name](task, learn)
        wall = time.perf_counter() - t   # includes scoring test (a second or two), for every config alike
    return dict(config=name, seed=seed, test=next(iter(test.values())), valid=valid, wall=round(wall, 1), extra={'test_scores': test, **extra})

# --- summaries and tables
def summarise(rows, lower):
    "Per config: test score per seed, mean, sd, worst, every test score's mean, valid mean, wall median and its ratio to fine_tune(3)'s"
    out, base = [], {r['seed']: r for r in rows if r['config'] == FT}
    for name in dict.fromkeys(r['config'] for r in rows):
        rs = [r for r in rows if r['config'] == name]
        ts = [r['test'] for r in rs]
        ratio = [r['wall']/base[r['seed']]['wall'] for r in rs if r['seed'] in base]
        out.append(dict(config=name, n=len(rs), test_mean=st.mean(ts), test_sd=st.stdev(ts) if len(ts) > 1 else 0., test_worst=(max if lower else min)(ts),
                        valid_mean=st.mean(r['valid'] for r in rs), wall_median=st.median(r['wall'] for r in rs),
                        wall_ratio=st.median(ratio) if ratio else None, per_seed={r['seed']: r['test'] for r in rs},
                        scores={k: st.mean(r['extra']['test_scores'][k] for r in rs) for k in rs[0]['extra']['test_scores']}))
    return out

def table(d):
    a = d['args']; summary = summarise(d['rows'], a['lower'])
    seeds = sorted({int(s) for o in summary for s in o['per_seed']})
    f = lambda v, n=4: '-' if v is None else f'{v:.{n}f}'
    lines = [f"### {a['task']} ({a['kind']})", "",
             f"Data: {a['n_train']} train / {a['n_valid']} valid / {a['n_test']} test images, {a['size']} px, bs {a['bs']}, "
             f"{'`aug_transforms`' if a['aug'] else 'no augmentation'}; loss {a['loss']}; test score: {a['metric'].split(' (lower')[0]}, "
             f"{'lower' if a['lower'] else 'higher'} is better; head-only floor: {a['floor']}; torch threads {a['threads']}, commit {d['commit']}  ",
             f"Command: `{d['command']}`", "",
             "| config | " + " | ".join(f'seed {s}' for s in seeds) + f" | mean | sd | worst | valid mean | wall s (median) | wall / fine_tune(3) |",
             "|---" * (len(seeds)+7) + "|"]
    for o in summary:
        ps = {int(k): v for k, v in o['per_seed'].items()}
        lines.append(f"| {o['config']} | " + " | ".join(f(ps.get(s)) for s in seeds) +
                     f" | {f(o['test_mean'])} | {f(o['test_sd'])} | {f(o['test_worst'])} | {f(o['valid_mean'])} | {o['wall_median']:.1f} | {f(o['wall_ratio'], 2)} |")
    keys = list(summary[0]['scores']) if summary else []
    lines += ["", "Every test score, mean over seeds:", "", "| config | " + " | ".join(keys) + " |", "|---" * (len(keys)+1) + "|"]
    lines += [f"| {o['config']} | " + " | ".join(f(o['scores'][k]) for k in keys) + " |" for o in summary]
    return '\n'.join(lines) + '\n'

def combined(files):
    "One table across result files: a row per task and config"
    lines = ["| task | score (direction) | config | test per seed | mean | sd | worst | valid mean | wall s (median) |", "|---|---|---|---|---|---|---|---|---|"]
    for fn in files:
        d = json.loads(Path(fn).read_text()); a = d['args']
        for o in summarise(d['rows'], a['lower']):
            ps = ', '.join(f"{k}: {v:.4f}" for k, v in sorted(o['per_seed'].items(), key=lambda kv: int(kv[0])))
            lines.append(f"| {a['task']} | {a['metric'].split(' (')[0]} ({'lower' if a['lower'] else 'higher'} is better) | {o['config']} | {ps} | "
                         f"{o['test_mean']:.4f} | {o['test_sd']:.4f} | {o['test_worst']:.4f} | {o['valid_mean']:.4f} | {o['wall_median']:.1f} |")
    return '\n'.join(lines + ['', 'Files: ' + ', '.join(f'`{Path(fn).name}`' for fn in files)]) + '\n'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tasks', nargs='+', default=list(TASKS), choices=list(TASKS))
    p.add_argument('--seeds', type=int, default=3); p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--name', default=None, help='suffix of the result files: results/kinds-<task>-NAME.json')
    p.add_argument('--summary', nargs='*', help='print one table across these result files (default: every kinds-<task>.json; runs nothing)')
    args = p.parse_args()
    if args.summary is not None:
        print(combined(args.summary or [ROOT/'results'/f'kinds-{t}.json' for t in TASKS if (ROOT/'results'/f'kinds-{t}.json').exists()])); return
    torch.set_num_threads(args.threads)
    for name in args.tasks:
        rows, a = [], None
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            task = TASKS[name](seed)
            if a is None:
                x = task.dls.valid.one_batch()[0]
                a = dict(vars(args), task=name, package=fastai_ft.__file__, cpu_count=os.cpu_count(),
                         n_train=len(task.dls.train_ds), n_valid=len(task.dls.valid_ds), n_test=len(task.tdl.dataset), size=x.shape[-1], bs=task.dls.bs,
                         lower=task.lower, **{k: v for k, v in task.what.items() if k != 'probe'}, floor=task.what['probe']['fit'])
            for config in args.configs:
                rows.append(run_one(task, config, seed)); print(json.dumps({'task': name, **rows[-1]}, default=str), flush=True)
                save(f"kinds-{name}{'-'+args.name if args.name else ''}", rows, args=a)
        print(table(json.loads((ROOT/'results'/f"kinds-{name}{'-'+args.name if args.name else ''}.json").read_text())), flush=True)

if __name__ == '__main__': main()
