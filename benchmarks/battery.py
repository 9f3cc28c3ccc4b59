"""A held-out battery: fine_tune(3), the linear probe and recipe='auto' on several real-image tasks, per seed.

    python benchmarks/battery.py --tasks digits faces textures --seeds 3 [--first-seed 0] [--configs ...] --name RUN
    python benchmarks/battery.py --summary --name RUN     # the run's tables from its results file (runs nothing)

Every task draws a fresh random split per seed (seeds never run before give test splits never looked at): validation
for every decision (trackers, the probe's C, the recipe's choices), test only for the score; no image (for textures, no
pixel) is in two splits. Model: the pretrained EfficientNet-Lite0 (`lite_learner`, `lite_stats` normalisation).

    hymenoptera        the photos: validation 20% of train/ per seed, test val/ (153); 128 px, bs 32, aug_transforms
    hymenoptera-224    the same at 224 px (the Lite2 bar: --arch lite2); not in the default --tasks
    hymenoptera-8shot  8 train/ photos per class, 20 per class validation from the rest of train/, test val/; bs 8
    digits             sklearn's 1797 8x8 digits: stratified 1077/360/360 per seed, 48 px, bs 64, no augmentation
    faces              skimage's lfw_subset (100 faces, then 100 non-faces, 25x25): 100/40/60, 64 px, bs 16, aug
    textures           skimage's brick, grass, gravel (512x512) cut into 64 tiles of 64x64 each: per class 24/15/25,
                       128 px (as RGB), bs 16, aug_transforms
    textures-4shot     4 tiles per class to train, 15 to validate, the other 45 to test; bs 4
    textures-8shot     8 tiles per class to train, 15 to validate, the other 41 to test; bs 8

Writes benchmarks/results/battery-RUN.json after every run (record.py: the command, commit and seeds; each task's data
and arguments in `tasks`; every run in `rows`, with its `task`), so a killed run keeps its rows; processes side by side
with the same --name add their tasks or seeds to the one file. Prints each task's table at its end.
The held-out bar: recipe='auto''s mean test accuracy >= the better of the probe's and fine_tune(3)'s, and no seed of
the recipe more than 0.03 below the probe on that seed."""
import argparse, json, os, shutil
from pathlib import Path
from sklearn.model_selection import train_test_split
from fastai.vision.all import *
import fastai_ft
from fastai_ft.models import lite_stats
import fastai_ft.recipe
from recipe import protocol_dls, run_one, summarise, CONFIGS, recipe, test_accuracy
from record import RESULTS, save

ROOT = Path(__file__).parent
HYMENOPTERA = Path(os.environ.get('FASTAI_FT_HYMENOPTERA', ROOT.parent.parent/'shared'/'data'/'hymenoptera'))
CACHE = Path(os.environ.get('XDG_CACHE_HOME') or Path.home()/'.cache')/'fastai_ft'/'battery'
PROBE, FT, AUTO = 'linear probe', 'fastai fine_tune(3)', "recipe='auto'"

def cached(name, images, labels):
    "Write the uint8 arrays `images` once as `CACHE/name/<label>/<index>.png`; their paths, in order"
    path = CACHE/name
    files = [path/str(l)/f'{i:04d}.png' for i, l in enumerate(labels)]
    if (path/'done').exists() and all(f.exists() for f in files): return files
    tmp = path.parent/f'.{name}.{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    for f, im in zip(files, images):
        (tmp/f.parent.name).mkdir(parents=True, exist_ok=True); Image.fromarray(im).save(tmp/f.parent.name/f.name)
    (tmp/'done').touch(); shutil.rmtree(path, ignore_errors=True); tmp.rename(path)
    return files

def split(y, n_train, n_valid, seed):
    "Stratified indices (train, valid, test) at random for `seed`: `n_train` and `n_valid` in all, the rest test"
    idx, y = np.arange(len(y)), np.asarray(y)
    rest, trn = train_test_split(idx, test_size=n_train, stratify=y, random_state=seed)
    tst, val = train_test_split(rest, test_size=n_valid, stratify=y[rest], random_state=seed)
    return trn, val, tst

def split_dls(trn, val, tst, size, bs, aug, seed):
    "DataLoaders on the image files `trn` and `val` (labels: the parent folder) and a labelled test DataLoader on `tst`"
    db = DataBlock((ImageBlock, CategoryBlock), get_y=parent_label, splitter=IndexSplitter(range(len(trn), len(trn)+len(val))),
                   item_tfms=Resize(size), batch_tfms=[*(aug_transforms() if aug else []), Normalize.from_stats(*lite_stats)])
    set_seed(seed, reproducible=True)
    dls = db.dataloaders(L(trn)+L(val), bs=bs, num_workers=0)
    return dls, dls.test_dl(L(tst), with_labels=True)

def digits_files():
    from sklearn.datasets import load_digits
    d = load_digits()
    return cached('digits', (d.images*255/16).round().astype(np.uint8), d.target), d.target

def faces_files():
    from skimage.data import lfw_subset
    y = np.array(['face']*100 + ['non-face']*100)   # skimage's docstring: the first 100 are faces, the next 100 non-faces
    return cached('faces', (lfw_subset()*255).round().astype(np.uint8), y), y

def texture_files(tile=64):
    import skimage.data as sd
    tiles = [(im[r:r+tile, c:c+tile], name) for name in ('brick', 'grass', 'gravel') for im in [getattr(sd, name)()]
             for r in range(0, im.shape[0]-tile+1, tile) for c in range(0, im.shape[1]-tile+1, tile)]   # disjoint tiles
    y = np.array([n for _, n in tiles])
    return cached(f'textures{tile}', [t for t, _ in tiles], y), y

def photo(f): return f.name != 'imageNotFound.gif'   # the archive's placeholder, not a photo

def hymenoptera_files():
    fs = get_image_files(HYMENOPTERA/'train').filter(photo)
    return fs, np.array([f.parent.name for f in fs])

def arrays_task(files, n_train, n_valid, size, bs, aug):
    "A task on `files()` (paths and labels): per seed a stratified split of `n_train`, `n_valid` and the rest as test"
    def _f(seed):
        fs, y = files()
        return split_dls(*[L(fs)[list(i)] for i in split(y, n_train, n_valid, seed)], size, bs, aug, seed)
    return _f

def hymenoptera_8shot(seed):
    fs, y = hymenoptera_files()
    trn, val, _ = split(y, 2*8, 2*20, seed)   # the rest of train/ is not used
    return split_dls(fs[list(trn)], fs[list(val)], get_image_files(HYMENOPTERA/'val').filter(photo), 128, 8, True, seed)

TASKS = {
    'hymenoptera':       lambda seed: protocol_dls(HYMENOPTERA, 128, seed),
    'hymenoptera-224':   lambda seed: protocol_dls(HYMENOPTERA, 224, seed),   # Lite2's bar (--arch lite2)
    'hymenoptera-8shot': hymenoptera_8shot,
    'digits':            arrays_task(digits_files, 1077, 360, 48, 64, False),
    'faces':             arrays_task(faces_files, 100, 40, 64, 16, True),
    'textures':          arrays_task(texture_files, 3*24, 3*15, 128, 16, True),
    'textures-4shot':    arrays_task(texture_files, 3*4, 3*15, 128, 4, True),
    'textures-8shot':    arrays_task(texture_files, 3*8, 3*15, 128, 8, True),
}

def with_history(config):
    "`config`, and the staged run's epoch-by-epoch history (`learn.stage_history`) in its row's `extra`"
    def _f(learn, clock):
        extra = config(learn, clock) or {}
        h = getattr(learn, 'stage_history', None)
        return {**extra, 'history': h.to_dict('records') if h is not None else None, 'candidate_test': getattr(learn, 'candidate_test', None)}
    return _f

CONFIGS[AUTO] = with_history(CONFIGS[AUTO])   # in this process only: recipe rows keep the head stage's history
CONFIGS["auto, LR 5e-4 (lr=5e-4)"] = with_history(recipe(lr=5e-4))
CONFIGS["auto, 8 augmented passes (head_aug=8)"] = with_history(recipe(head_aug=8))
CONFIGS["auto, the best weight-decay try as the head (freeze_epochs=0)"] = with_history(recipe(freeze_epochs=0))
CONFIGS["auto, 5-epoch weight-decay tries (sweep_epochs=5)"] = with_history(recipe(sweep_epochs=5))
CONFIGS["auto, 5-epoch tries, 25 head epochs (sweep_epochs=5, freeze_epochs=25)"] = with_history(recipe(sweep_epochs=5, freeze_epochs=25))

def last_try_wd(**kw):
    "The recipe as it ran before every stage took the chosen weight decay: with no head stage (few-shot), fine-tuning at the last try's, which the tries left on the optimizer"
    def _f(learn, clock):
        train = fastai_ft.recipe.AutoRecipe.train
        def _train(self, plan):
            if self.tried and not self.head_epochs: self.wd_run = self.wds[-1]
            return train(self, plan)
        fastai_ft.recipe.AutoRecipe.train = _train
        try: return recipe(**kw)(learn, clock)
        finally: fastai_ft.recipe.AutoRecipe.train = train
    return _f

CONFIGS["auto, few-shot fine-tuning at the last try's wd (before the fix)"] = with_history(last_try_wd())
# Configs of earlier runs that the code has since made the default or dropped are at the commit their results name:
# 'auto, a 40-epoch head stage (freeze_epochs=40)' (confirm1300, 467a103: the head stage from the head the tries started from)
# and "auto, 20 head epochs from the best try's head" (confirm1400, b7fd4c5: its `from_best_try` patch, now the default)

TEST = {}   # the test DataLoader of the run in progress, for --candidates

def _candidates_on_test(choose):
    "`choose_weights` that also scores every candidate on the test split, for analysis only: the choice is made before, on validation"
    def _f(learn, cands, *args, **kw):
        name, rows, why = choose(learn, cands, *args, **kw)
        if 'tdl' in TEST:
            learn.candidate_test = {}
            for n, sd in cands.items(): fastai_ft.recipe.load_state(learn, sd); learn.candidate_test[str(n)] = test_accuracy(learn, TEST['tdl'])
            fastai_ft.recipe.load_state(learn, cands[name])
        return name, rows, why
    return _f

def describe(dls, tdl):
    "What the table says about a task's data"
    aug = any(t.split_idx == 0 for t in dls.after_batch.fs)   # random augmentation runs on the training set only
    size = dls.valid.one_batch()[0].shape[-1]
    return dict(n_train=len(dls.train_ds), n_valid=len(dls.valid_ds), n_test=len(tdl.dataset), classes=list(dls.vocab), size=size, bs=dls.bs, aug=aug)

def bar(by):
    "The held-out bar's check on one task's summaries `by` (config -> summary); '' when a config is missing"
    if not all(k in by for k in (PROBE, FT, AUTO)): return ''
    a, p, f = by[AUTO], by[PROBE], by[FT]
    low = [s for s in a['per_seed'] if s in p['per_seed'] and a['per_seed'][s] < p['per_seed'][s] - 0.03 - 1e-9]
    why = ([f"mean {a['test_mean']:.4f} < {max(p['test_mean'], f['test_mean']):.4f}"] if a['test_mean'] < max(p['test_mean'], f['test_mean']) - 1e-9 else []) + \
          [f"seed {s}: {a['per_seed'][s]:.3f} vs probe {p['per_seed'][s]:.3f}" for s in low]
    return 'met' if not why else 'NOT met: ' + '; '.join(why)

def table(task, summary, a):
    seeds = sorted({int(s) for o in summary for s in o['per_seed']})
    by = {o['config']: o for o in summary}
    lines = [f"### {task}", "", f"Data: {a['n_train']} train / {a['n_valid']} valid / {a['n_test']} test images (one test image = {1/a['n_test']:.4f}), "
             f"{a['size']} px, bs {a['bs']}, {'`aug_transforms`' if a['aug'] else 'no augmentation'}; arch {a['arch']}, torch threads {a['threads']}", "",
             "| config | " + " | ".join(f'seed {s}' for s in seeds) + " | mean | sd | min | valid mean | wall s (median) | bar |",
             "|---" * (len(seeds)+7) + "|"]
    for o in summary:
        ps = {int(k): v for k, v in o['per_seed'].items()}
        lines.append(f"| {o['config']} | " + " | ".join(f"{ps[s]:.4f}" if s in ps else '-' for s in seeds) +
                     f" | {o['test_mean']:.4f} | {o['test_sd']:.4f} | {o['test_min']:.3f} | {o['valid_mean']:.4f} | {o['wall_median']:.1f} | "
                     f"{bar(by) if o['config'] == AUTO else ''} |")
    return '\n'.join(lines) + '\n'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tasks', nargs='+', default=[t for t in TASKS if t not in ('hymenoptera', 'hymenoptera-224')], choices=list(TASKS))
    p.add_argument('--seeds', type=int, default=3); p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--seed-list', type=int, nargs='+', help='these seeds instead of --seeds/--first-seed')
    p.add_argument('--configs', nargs='+', default=[FT, PROBE, AUTO], help=f"known: {', '.join([PROBE, *CONFIGS])}")
    p.add_argument('--arch', default='lite0'); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--name', default='dev', help='the run: results/battery-NAME.json holds every task of it')
    p.add_argument('--candidates', action='store_true', help="also score each of the recipe's final candidates on test (analysis only; the recipe chooses on validation before)")
    p.add_argument('--summary', action='store_true', help="print the run's tables from results/battery-NAME.json (runs nothing)")
    args = p.parse_args()
    name, of = f'battery-{args.name}', lambda rows, task: [r for r in rows if r['task'] == task]
    if args.summary:
        d = json.loads((RESULTS/f'{name}.json').read_text())
        for task, a in d['tasks'].items(): print(table(task, summarise(of(d['rows'], task)), a))
        return
    torch.set_num_threads(args.threads)
    if args.candidates: fastai_ft.recipe.choose_weights = _candidates_on_test(fastai_ft.recipe.choose_weights)
    settings = {k: v for k, v in vars(args).items() if k not in ('tasks', 'seeds', 'first_seed', 'seed_list', 'name', 'summary')}
    for task in args.tasks:
        rows, info = [], None
        for seed in args.seed_list or range(args.first_seed, args.first_seed + args.seeds):
            dls, tdl = TASKS[task](seed)
            if args.candidates: TEST['tdl'] = tdl
            info = info or dict(describe(dls, tdl), **settings, package=fastai_ft.__file__)
            for config in args.configs:
                target = next((r['test'] for r in rows if r['seed'] == seed and r['config'] == FT), None)   # fine_tune(3) first: time to reach it
                rows.append(dict(task=task, **run_one(args, dls, tdl, config, seed, target))); print(json.dumps(rows[-1], default=str), flush=True)
                every = save(name, rows, tasks={task: info})
        print(table(task, summarise(of(every, task)), info), flush=True)

if __name__ == '__main__': main()
