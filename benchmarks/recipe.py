"""`recipe='auto'` against fastai's `fine_tune(3)` and a linear probe, on a held-out test split that no decision sees.

    python benchmarks/recipe.py [--arch lite0] [--size 128] [--seeds 5] [--configs ...] [--name NAME]
    python benchmarks/recipe.py --digits [--seeds 5]            # the demo's task and settings

Protocol (hymenoptera or any folder with train/ and val/ or valid/): per seed, 20% of train/ drawn at random is the
validation split that every decision uses (trackers, plateaus, the probe's C, the recipe's weight decay, BatchNorm
policy and final weights); the original val/ folder is the test split, used only to report. Every config of a seed
gets the same DataLoaders (fastai's `aug_transforms`, `Resize(size)`, EfficientNet-Lite normalisation), configs run
interleaved by seed. Reported per config: test accuracy (mean, sd, min, per seed), validation accuracy, wall time and
its ratio to fine_tune(3)'s on the same seed, and the time at which the run first held weights whose test accuracy
reached fine_tune(3)'s final one (test accuracy measured at the start of the run, after every epoch of a frozen stage until that
accuracy is reached, at the end of every stage and after every unfrozen epoch; fine_tune(3) runs first on each seed; the time spent
measuring it is not counted). Writes benchmarks/results/<name>.json after every run (record.py: the command, commit and
seeds; processes side by side with the same --name, say on other seeds, add their rows to it) and prints the tables."""
import argparse, json, os, random, statistics as st, sys, time
from pathlib import Path
from fastai.vision.all import *
from fastai_ft.all import *
from fastai_ft.models import lite_learner, lite_stats, digits_folder, folder_dls
from record import save

ROOT = Path(__file__).parent
DATA = Path(os.environ.get('FASTAI_FT_HYMENOPTERA', ROOT.parent.parent/'shared'/'data'/'hymenoptera'))

def protocol_dls(path, size, seed, bs=32, aug=True, valid_pct=0.2):
    "Validation: `valid_pct` of train/ at random (per seed); test: the val/ (or valid/) folder. `aug`: fastai's `aug_transforms()`, none, or a dict of its arguments"
    ok = lambda f: f.name != 'imageNotFound.gif'   # the archive's placeholder, not a photo
    db = DataBlock((ImageBlock, CategoryBlock), get_items=lambda p: get_image_files(p/'train').filter(ok), get_y=parent_label,
                   splitter=RandomSplitter(valid_pct, seed=seed), item_tfms=Resize(size),
                   batch_tfms=[*(aug_transforms(**(aug if isinstance(aug, dict) else {})) if aug else []), Normalize.from_stats(*lite_stats)])
    set_seed(seed, reproducible=True)
    dls = db.dataloaders(path, bs=bs, num_workers=0)
    test = next(p for p in (path/'val', path/'valid') if p.exists())
    return dls, dls.test_dl(get_image_files(test).filter(ok), with_labels=True)

def digits_dls(size, seed, bs=64):
    "The demo's data and settings (no augmentation: digits are not flip-invariant); its valid/ folder is the test split here"
    return protocol_dls(digits_folder(), size, seed, bs=bs, aug=False)

class Clock:
    "Wall time of a run, less the time spent measuring test accuracy for the timeline; `target`: fine_tune(3)'s final test accuracy on the same seed"
    def __init__(self, learn, tdl, target=None): self.learn,self.tdl,self.target,self.t0,self.paused,self.points = learn,tdl,target,time.perf_counter(),0.,[]
    def now(self): return time.perf_counter() - self.t0 - self.paused
    @property
    def reached(self): return self.target is not None and any(a >= self.target - 1e-9 for _,a,_ in self.points)
    def mark(self, what):
        t, s = self.now(), time.perf_counter()
        self.points.append((round(t, 2), test_accuracy(self.learn, self.tdl), what))
        self.paused += time.perf_counter() - s

class Timeline(Callback):
    "Test accuracy of the weights held after every unfrozen epoch, after every frozen epoch until fine_tune(3)'s accuracy is reached, at the end of every stage and at the start of the run (for the report only)"
    order = 200
    def __init__(self, clock): self.clock = clock
    def before_stage(self):
        if self.stage.index == 0: self.clock.mark('start')   # what the run starts from: recipe='auto' may have trained a head before its first stage
    def after_epoch(self):
        if self.opt.frozen_idx == 0: self.clock.mark('epoch')
        elif self.clock.target is not None and not self.clock.reached: self.clock.mark('frozen epoch')
    def after_stage(self):
        if self.opt.frozen_idx > 0: self.clock.mark('stage end')

def test_accuracy(learn, tdl):
    "Accuracy on the test split, computed outside fastai's loop (callbacks untouched), in eval mode"
    m = learn.model; modes = [(o, o.training) for o in m.modules()]; m.eval()
    right = n = 0
    with torch.no_grad():
        for xb, yb in tdl: right += (m(xb).argmax(1) == yb).sum().item(); n += len(yb)
    for o, t in modes: o.training = t
    return right/n

def linear_probe(learn, dls, tdl, Cs=(0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30)):
    "Logistic regression on the frozen body's average-pooled features (validation transforms), C chosen on validation"
    from sklearn.linear_model import LogisticRegression
    body = learn.model[0].eval()
    def feats(dl):
        with torch.no_grad(): fs = [(body(x).mean((2, 3)), y) for x, y in dl]
        return torch.cat([f for f, _ in fs]).numpy(), torch.cat([y for _, y in fs]).numpy()
    (Xt, yt), (Xv, yv), (Xs, ys) = feats(dls.test_dl(dls.train_ds.items, with_labels=True)), feats(dls.valid), feats(tdl)
    fits = [(LogisticRegression(C=C, max_iter=5000).fit(Xt, yt), C) for C in Cs]
    m, C = max(fits, key=lambda o: (o[0].score(Xv, yv), -abs(np.log10(o[1]))))   # ties: the C nearest 1
    return dict(test=m.score(Xs, ys), valid=m.score(Xv, yv), C=C)

def recipe(**kw):
    "The recipe with the arguments `kw` (an ablation when given)"
    def _f(learn, clock):
        r = learn.staged_fine_tune(recipe='auto', cbs=Timeline(clock), **kw)
        return dict(decisions=r.decisions, floor=r.floor, final=r.ceiling, mixes=getattr(learn, 'recipe_candidates', pd.DataFrame()).reset_index().to_dict('records'),
                    stages=[dict(name=s.name, epochs=s.epochs_run, bn=s.bn, reason=s.reason, time=round(s.time, 1)) for s in r])
    return _f

def smoothed(eps=0.1, **kw):
    "The recipe with fastai's label-smoothing loss (`eps`) for every stage, head and fine-tuning"
    def _f(learn, clock):
        learn.loss_func = LabelSmoothingCrossEntropyFlat(eps=eps)
        return recipe(**kw)(learn, clock)
    return _f

def fine_tune(epochs=3):
    def _f(learn, clock):
        learn.fine_tune(epochs, cbs=Timeline(clock))   # fastai's own; its frozen epoch is not marked (no stage events)
    return _f

CONFIGS = {
    'fastai fine_tune(3)': fine_tune(3),
    "recipe='auto'": recipe(),
    'auto without the guard (alphas=(1,))': recipe(alphas=(1,)),
    'auto, the fine-tuned weights as the reference (ref=1)': recipe(ref=1),
    'auto, guard takes the best on validation (p=1)': recipe(p=1.),
    'auto, no weight-decay grid (wds=(0.01,))': recipe(wds=(1e-2,)),
    "auto, bn='eval' instead of the drift's choice": recipe(bn='eval'),
    "auto, bn='train' instead of the drift's choice": recipe(bn='train'),
    "recipe='auto', the demo's settings (epochs=12, lr_mult=30)": recipe(epochs=12, lr_mult=30),
    'auto, no converged head (cache=False, 1 head epoch)': recipe(cache=False, freeze_epochs=1),
    'auto, head without augmented passes (head_aug=off)': recipe(head_aug='off'),
    'auto, surgical: the last 3 of 6 groups (unfreeze=[1, 3])': recipe(unfreeze=[1, 3]),
    'auto, surgical: the last 2 of 6 groups (unfreeze=[1, 2])': recipe(unfreeze=[1, 2]),
    # label smoothing (benchmarks/README.md, three versions): `smoothed` sets the loss on the learner, so the weight-decay
    # tries and the BatchNorm drift are smoothed too (the first version: ls-128-*, ls-160-*; the 'recipe=...' rows of
    # ls-lite2-*, ls-digits-*); `label_smoothing=0.1` is the recipe's default since recipe4-* (the configs naming it ran the
    # second version in ls2-*, the third in ls3-*); rows up to recipe3-* ran the recipe without it
    'auto with label smoothing (eps=0.1)': smoothed(0.1),
    'auto without label smoothing (label_smoothing=0)': recipe(label_smoothing=0),
    "the demo's settings without label smoothing (label_smoothing=0)": recipe(epochs=12, lr_mult=30, label_smoothing=0),
    'auto, label_smoothing=0.1': recipe(label_smoothing=0.1),
    "the demo's settings, label_smoothing=0.1": recipe(epochs=12, lr_mult=30, label_smoothing=0.1),
}

def seed_run(dls, seed):
    "Set every random state a run draws from to `seed`, so that the runs of one seed draw alike"
    set_seed(seed, reproducible=True)
    for dl in dls.loaders: dl.rng = random.Random(seed)   # fastai's DataLoader shuffles with its own RNG, which set_seed leaves alone

def average(sds):
    "The weight average of the `state_of` copies `sds` (integer buffers from the last)"
    return {k: (sum(s[k].float() for s in sds)/len(sds)).to(sds[0][k].dtype) if sds[0][k].is_floating_point() else sds[-1][k] for k in sds[0]}

def fresh_learner(dls, arch, seed):
    "A new `lite_learner` after `seed_run(dls, seed)`"
    seed_run(dls, seed)
    return lite_learner(dls, arch)

def run_one(args, dls, tdl, name, seed, target=None):
    learn = fresh_learner(dls, args.arch, seed)
    with learn.no_bar(), learn.no_logging():
        if name == 'linear probe':
            t = time.perf_counter(); r = linear_probe(learn, dls, tdl); wall = time.perf_counter() - t
            return dict(config=name, seed=seed, test=r['test'], valid=r['valid'], wall=round(wall, 1), extra=dict(C=r['C']))
        clock = Clock(learn, tdl, target)
        extra = CONFIGS[name](learn, clock) or {}
        wall = clock.now()
        clock.mark('end')
        valid = float(learn.validate()[1])
    return dict(config=name, seed=seed, test=clock.points[-1][1], valid=valid, wall=round(wall, 1), timeline=clock.points, extra=extra)

def summarise(rows, base='fastai fine_tune(3)'):
    out = []
    for name in dict.fromkeys(r['config'] for r in rows):
        rs = [r for r in rows if r['config'] == name]
        b = {r['seed']: r for r in rows if r['config'] == base}
        ratio = [r['wall']/b[r['seed']]['wall'] for r in rs if r['seed'] in b]
        reach = [next((t for t, a, _ in r.get('timeline', []) if a >= b[r['seed']]['test'] - 1e-9), None) for r in rs if r['seed'] in b]
        reach_ratio = [t/b[r['seed']]['wall'] if t is not None else None for t, r in zip(reach, rs)]
        out.append(dict(config=name, n=len(rs), test_mean=st.mean(r['test'] for r in rs),
                        test_sd=st.stdev([r['test'] for r in rs]) if len(rs) > 1 else 0., test_min=min(r['test'] for r in rs),
                        valid_mean=st.mean(r['valid'] for r in rs), wall_median=st.median(r['wall'] for r in rs),
                        wall_ratio=st.median(ratio) if ratio else None,
                        reach_ratio=st.median([x if x is not None else float('inf') for x in reach_ratio]) if reach_ratio and name != base else None,
                        reached=sum(x is not None for x in reach_ratio), per_seed={r['seed']: r['test'] for r in rs}))
    return out

def reached(s): return '' if s['reach_ratio'] is None else f" ({s['reached']}/{s['n']} reached)"

def markdown(summary, args):
    f = lambda v, d=3: '-' if v is None else ('never' if v == float('inf') else f'{v:.{d}f}')
    seeds = sorted({s for o in summary for s in o['per_seed']})
    lines = [f"Command: `python benchmarks/recipe.py {' '.join(sys.argv[1:])}`  ",
             f"Data: {args.data_name}, arch {args.arch}, {args.size} px, {'no augmentation' if args.digits else '`aug_transforms`'}; validation = 20% of train/ per seed, "
             f"test = {args.test_name} ({args.n_test} images, one image = {1/args.n_test:.4f}); torch threads {args.threads}, {os.cpu_count()} CPU cores", "",
             "| config | seeds | test accuracy mean | sd | min | valid accuracy mean | wall s (median) | wall / fine_tune(3) | time to fine_tune(3)'s accuracy / its wall time (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['config']} | {s['n']} | {f(s['test_mean'],4)} | {f(s['test_sd'],4)} | {f(s['test_min'])} | {f(s['valid_mean'],4)} | "
                     f"{f(s['wall_median'],1)} | {f(s['wall_ratio'],2)} | {f(s['reach_ratio'],2)}{reached(s)} |")
    lines += ["", "Test accuracy per seed:", "", "| config | " + " | ".join(map(str, seeds)) + " |", "|---" * (len(seeds)+1) + "|"]
    for s in summary: lines.append(f"| {s['config']} | " + " | ".join(f(s['per_seed'].get(k), 4) for k in seeds) + " |")
    return '\n'.join(lines) + '\n'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default=str(DATA)); p.add_argument('--digits', action='store_true', help="the demo's digits at 48 px")
    p.add_argument('--arch', default='lite0'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--seeds', type=int, default=5); p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--configs', nargs='+', default=['fastai fine_tune(3)', 'linear probe', "recipe='auto'"],
                   help=f"configs to run (default: the three compared); 'all' for every ablation too; known: {', '.join(['linear probe', *CONFIGS])}")
    p.add_argument('--threads', type=int, default=2); p.add_argument('--name', default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.configs == ['all']: args.configs = ['fastai fine_tune(3)', 'linear probe', *list(CONFIGS)[1:]]
    if args.digits: args.size = 48 if args.size == 128 else args.size
    args.data_name = 'digits (sklearn)' if args.digits else Path(args.data).name
    args.test_name = 'valid/' if args.digits else 'val/'
    name = args.name or f"recipe-{'digits' if args.digits else Path(args.data).name}-{args.arch}-{args.size}px"
    rows = every = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        dls, tdl = digits_dls(args.size, seed) if args.digits else protocol_dls(Path(args.data), args.size, seed)
        args.n_test = len(tdl.dataset)
        for config in args.configs:
            target = next((r['test'] for r in rows if r['seed'] == seed and r['config'] == 'fastai fine_tune(3)'), None)   # fine_tune runs first
            rows.append(run_one(args, dls, tdl, config, seed, target)); print(json.dumps(rows[-1]), flush=True)
            every = save(name, rows, args={k: v for k, v in vars(args).items() if k not in ('seeds', 'first_seed', 'name')})
    print(markdown(summarise(every), args))

if __name__ == '__main__': main()
