"""The measured tables and figures of benchmarks/README.md, benchmarks/battery-history.md and README.md, generated from the
result files in benchmarks/results/.

    python benchmarks/tables.py           # rewrite every region, then README.md from nbs/index.ipynb
    python benchmarks/tables.py --check   # exit 1, naming each stale region or file, when something differs or is missing

Regions, in a file of MARKDOWN or a markdown cell of nbs/index.ipynb (README.md is rendered from it by .ci/readme.py):

    <!-- table:NAME -->              TABLES[NAME] rendered as markdown: (header, rows), each a list of cells
    <!-- /table:NAME -->
    text <!-- fig:NAME -->0.898<!-- /fig:NAME --> text   FIGS[NAME](), a figure inside a sentence
    <!-- commands:FILE -->           the commands that wrote results/FILE.json, as a sh block
    <!-- /commands:FILE -->
    <!-- block:NAME -->              BLOCKS[NAME](), lines of text shown as a code block (the demo's printed report)
    <!-- /block:NAME -->
    ## RUN: seeds ..., COMMIT, CHANGE                     in battery-history.md: the heading of each run of RUNS, whole line

A cell, a header or a figure is a string or a function returning one; the helpers below each read one results file,
`FILE` meaning benchmarks/results/FILE.json and `FILE:TASK` the rows of that task in a battery run's file, and compute
from its `rows` (never a `summary`), so every figure is rounded once. `config` picks the rows with that `config`, in
seed order; `note=` is text appended to the figure.

    acc(file, config)           mean ± sd (min) of the test accuracy over seeds, 3 decimals (key='accuracy': overhead.py's rows)
    seeds(file, config)         the per-seed values
    ratio(file, config)         median over seeds of the run's wall time / fine_tune(3)'s on that seed in the same file
    reach(file, config)         median over seeds of the time the run first held fine_tune(3)'s final test accuracy,
                                over fine_tune(3)'s wall time ('never' when half or more never did)
    wall(file, config)          median wall time in seconds
    speedup(file, config)       overhead.py: median over seeds of fine_tune's time per frozen epoch after the first, over the config's
    stat(file, config, f, fmt)  anything else: fmt.format(f(rows of the config))
    field(file, f, fmt)         a figure of a file without config rows: fmt.format(f(the whole JSON))
    span(file), commit(file)    the seeds of a file as ranges (1100-1104), its commit (7 characters)
    versus(file)                the recipe's mean against the probe's, and its worst seed against the probe

`--check` also fails on a results file that no region reads, on one without its `command`, `commit` and `seeds`
(record.py writes them), and on anything in results/ but JSON files. To add a table: an entry of TABLES, the two
markers on lines of their own where it goes, then run this script.
"""
import json, re, statistics as st, subprocess, sys
from collections import namedtuple
from functools import cache
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT, RESULTS = BENCH.parent, BENCH/'results'
MARKDOWN = [BENCH/'README.md', BENCH/'battery-history.md']   # the files with regions, beside nbs/index.ipynb
FT, PROBE, AUTO = 'fastai fine_tune(3)', 'linear probe', "recipe='auto'"
NO_LS = 'auto without label smoothing (label_smoothing=0)'
DEMO, DEMO_LS = "recipe='auto', the demo's settings (epochs=12, lr_mult=30)", "the demo's settings, label_smoothing=0.1"
READ = set()   # the results files some region read

@cache
def load(name):
    "The JSON of results file `name`"
    READ.add(name)
    return json.loads((RESULTS/f'{name}.json').read_text())

def rows_of(file):
    "The rows of `file`: `NAME` or `NAME:TASK`, a task of a battery run"
    name, _, task = file.partition(':')
    rows = load(name)['rows']
    if task and not (rows := [r for r in rows if r.get('task') == task]): raise LookupError(f"results/{name}.json has no task {task!r}")
    return rows

def runs(file, config):
    "The rows of `config` in `file`, in seed order"
    rows = rows_of(file)
    rs = sorted((r for r in rows if r.get('config') == config), key=lambda r: r['seed'])
    if not rs: raise LookupError(f"results/{file} has no rows of config {config!r} (it has {sorted({r.get('config') for r in rows})})")
    return rs

def stat(file, config, f, fmt='{:.3f}', note=''):
    "Any figure: `f` of the rows of `config`, formatted"
    return lambda: fmt.format(f(runs(file, config))) + note

def field(file, f, fmt='{}', note=''):
    "A figure of a results file that has no config rows: `f` of its JSON, formatted"
    return lambda: fmt.format(f(load(file))) + note

def _spans(xs):
    "Sorted integers as ranges: 0-4, 10"
    out = []
    for x in sorted(set(xs)):
        if out and x == out[-1][1] + 1: out[-1][1] = x
        else: out.append([x, x])
    return ', '.join(f'{a}-{b}' if b > a else f'{a}' for a, b in out)

def span(file): return lambda: _spans(r['seed'] for r in rows_of(file))
def nseeds(file): return len({r['seed'] for r in rows_of(file)})
def commit(file): return lambda: load(file.partition(':')[0])['commit'][:7]

def _acc(v, d=3):
    return f'{v[0]:.{d}f}' if len(v) == 1 else f'{st.mean(v):.{d}f} ± {st.stdev(v):.{d}f} (min {min(v):.{d}f})'

def acc(file, config, key='test', note=''): return stat(file, config, lambda rs: _acc([r[key] for r in rs]), '{}', note)
def seeds(file, config, key='test'): return stat(file, config, lambda rs: ' '.join(f'{r[key]:.3f}' for r in rs), '{}')
def wall(file, config, note=''): return stat(file, config, lambda rs: st.median(r['wall'] for r in rs), '{:.0f} s', note)
def mean(file, config, d=3): return stat(file, config, lambda rs: st.mean(r['test'] for r in rs), f'{{:.{d}f}}')

def _per_seed(file, config, base, f):
    "Median over the seeds of `config` of `f(row, base's row of that seed)`, both from `file`"
    b = {r['seed']: r for r in runs(file, base)}
    return st.median(f(r, b[r['seed']]) for r in runs(file, config) if r['seed'] in b)

def ratio(file, config, base=FT, note=''):
    return lambda: f"{_per_seed(file, config, base, lambda r, b: r['wall']/b['wall']):.2f}x" + note

def _reach(r, b):
    t = next((t for t, a, _ in r.get('timeline', []) if a >= b['test'] - 1e-9), None)
    return float('inf') if t is None else t/b['wall']

def reach(file, config, base=FT, note=''):
    return lambda: (lambda x: 'never' if x == float('inf') else f'{x:.2f}x')(_per_seed(file, config, base, _reach)) + note

def speedup(file, config, base='fastai fine_tune', note=''):
    later = lambda r: st.median(r['frozen_epoch_s'][1:])
    return lambda: f"{1/_per_seed(file, config, base, lambda r, b: later(r)/later(b)):.1f}x" + note

def _gaps(file, config=AUTO, base=PROBE):
    b = {r['seed']: r['test'] for r in runs(file, base)}
    return {r['seed']: r['test'] - b[r['seed']] for r in runs(file, config) if r['seed'] in b}

def worst_gap(file, config=AUTO): return lambda: f'{min(_gaps(file, config).values()):+.3f}'

def versus(file, d=3, config=AUTO):
    "A config's mean (the recipe's) against the probe's, and its worst seed against the probe"
    def f():
        g = _gaps(file, config); s = min(g, key=g.get)
        return f"{mean(file, config, d)()} against the probe's {mean(file, PROBE, d)()}, worst seed {g[s]:+.3f} ({s})"
    return f

def _bar(file):
    m = lambda c: st.mean(r['test'] for r in runs(file, c))
    return m(AUTO) >= max(m(PROBE), m(FT)) - 1e-9, min(_gaps(file).values()) >= -0.03 - 1e-9

def bar(file):
    "The held-out bar: the recipe's mean >= the better of the probe's and fine_tune(3)'s, and no seed more than 0.03 below the probe"
    def f():
        ok_mean, ok_seed = _bar(file)
        return 'met' if ok_mean and ok_seed else 'not met (' + ', '.join(w for w, ok in (('mean', ok_mean), ('a seed', ok_seed)) if not ok) + ')'
    return f

def score(file, config, lower=False):
    "mean ± sd (worst) of the test score over seeds, the worst being the max when lower is better"
    return stat(file, config, lambda rs: (lambda v: f'{st.mean(v):.3f} ± {st.stdev(v):.3f} ({"max" if lower else "min"} {(max if lower else min)(v):.3f})')([r['test'] for r in rs]), '{}')

# The held-out battery (battery.py): one results file per run, battery-<run>.json, each task's rows with their `task`
BATTERY = {'hymenoptera': 'hymenoptera, 128 px (153 test photos)', 'hymenoptera-8shot': 'hymenoptera, 8 photos per class',
           'digits': 'digits, 48 px, the demo (360 test images)', 'faces': 'faces or not, 64 px (60 test images)',
           'textures': 'textures, 24 tiles per class (75 test tiles)', 'textures-8shot': 'textures, 8 tiles per class',
           'textures-4shot': 'textures, 4 tiles per class'}
FEW_SHOT = ('hymenoptera-8shot', 'textures-8shot', 'textures-4shot')   # the tasks the few-shot reference and probe decide
TWO_CLASS = ('hymenoptera', 'hymenoptera-8shot', 'faces')
Run = namedtuple('Run', 'name change tasks per_seed')   # tasks: those its tables show (Lite2's hymenoptera-224 is in the recipe tables)
# Every run of the battery, each on seeds no version had run before: the headline first, then the others, newest first.
# Each gets the region battery-<name> (the final run's is `battery`), battery-<name>-seeds when it has `per_seed`, and
# its heading in battery-history.md, with the seeds and the commit its file records.
HEAD_TASKS = ('hymenoptera', 'digits', 'faces', 'textures')   # the tasks with a head stage (16 or more training items per class)
RUNS = [
    Run('confirm1100', "the headline: the code of 4aa6912 (and a guard no task reaches) on every task and Lite2", tuple(BATTERY), True),
    Run('confirm1500', "few-shot fine-tuning at the weight decay chosen (a fix: it ran at the last try's; that behaviour beside it)", FEW_SHOT, True),
    Run('confirm1400', "the head stage: 20 epochs from the best weight-decay try's head (the default after this run; `recipe='auto'` here is the 40-epoch head stage, the default before it)", HEAD_TASKS, True),
    Run('confirm1300', "the best weight-decay try as the head, no head stage (dropped after this run; the default, with its head stage, beside it)", tuple(BATTERY), True),
    Run('guard1200', "nothing: the headline's recipe again, run to test the loss guard (dropped)", ('hymenoptera', 'faces', 'textures'), True),
    Run('confirm1000', 'nothing: the code of confirm900 on 20 more seeds', ('hymenoptera-8shot',), False),
    Run('confirm900', "the few-shot probe head is scikit-learn's fit", FEW_SHOT, True),
    Run('confirm800', "the probe head's C on scikit-learn's scale", TWO_CLASS, True),
    Run('confirm700', "the choices of 06b5db5 on every task (the headline before)", tuple(BATTERY), True),
    Run('confirm600', 'the probe head on the average-pooled features of the clean pass', ('hymenoptera', *FEW_SHOT, 'faces'), True),
    Run('confirm500', 'below 16 items per class the probe head is the reference', FEW_SHOT, False),
    Run('confirm400', 'the probe head fitted on every cached pass', tuple(BATTERY), True),
    Run('confirm', 'the linear probe head, the few-shot reference', tuple(BATTERY), True),
    Run('final', "the first recipe changes for the held-out bar (the head's batches, the budget from the drift, few-shot without a head stage...)", tuple(BATTERY), True),
    Run('baseline', 'before the held-out bar (development seeds)', tuple(t for t in BATTERY if t != 'hymenoptera'), False)]
HEADLINE, OTHER_RUNS = RUNS[0], RUNS[1:]   # the summary table's rows: every run but the headline
B = lambda run, task: f'battery-{run}:{task}'

def shortfalls(run, tasks):
    "The tasks of a run that miss the held-out bar, with what they miss"
    return lambda: '; '.join(f'{BATTERY[t]}: {m[len("not met ("):-1]}' for t in tasks if (m := bar(B(run, t))()) != 'met') or 'none'

def battery_table(run, tasks=BATTERY, wall=True):
    "One row per task of a run: each config's test accuracy, the worst seed against the probe, the held-out bar (and the wall ratio)"
    return (['task', 'fastai `fine_tune(3)`', 'linear probe', "`recipe='auto'`", 'recipe − probe, worst seed', 'held-out bar'] + ['wall / `fine_tune(3)`']*wall,
            [[BATTERY[t], acc(B(run, t), FT), acc(B(run, t), PROBE), acc(B(run, t), AUTO), worst_gap(B(run, t)), bar(B(run, t))] + [ratio(B(run, t), AUTO)]*wall for t in tasks])

# The head stage dropped (tried, not kept): the recipe without it (freeze_epochs=0) beside its default 40-epoch head stage, on
# the same seeds of the tasks with 16 or more training items per class (the few-shot ones never had it)
OLD_HEAD, DEV_NO_HEAD = 'auto, a 40-epoch head stage (freeze_epochs=40)', 'auto, the best weight-decay try as the head (freeze_epochs=0)'
HEAD_RUNS = [('pilot-nohead', DEV_NO_HEAD, AUTO, 'development'), ('confirm1300', AUTO, OLD_HEAD, 'held out')]   # (run, without, with: the default, seeds)

def kept_loss(r):
    "The validation loss (the learner's own) of the weights the recipe kept, from its row's decisions"
    w = next(d for d in r['extra']['decisions'] if d['part'] == 'weights')
    return w['evidence']['candidates'][w['choice']]['valid_loss']

def head_table(head_runs, new_name, old_name):
    """Per run and task: test accuracy of a head-stage change and of the default beside it, the probe's (where the run has it), the
    change's worst seed against it, the kept weights' validation loss, the wall ratio; `head_runs`: (run, change, default, seeds[, tasks])"""
    loss = lambda f, c: stat(f, c, lambda rs: st.mean(kept_loss(r) for r in rs))
    probe = lambda f, g: lambda: g() if any(r.get('config') == PROBE for r in rows_of(f)) else '-'   # a pilot may not have run it
    return (['task', 'seeds', f'test: {new_name}', f'test: {old_name} (the default)', 'linear probe', f'{new_name} − probe, worst seed',
             f'validation loss of the weights kept: {new_name}', 'the default', f'wall: {new_name} / the default'],
            [[BATTERY[t], (lambda f=B(run, t), k=kind: f'{k} {span(f)()}'), acc(B(run, t), new), acc(B(run, t), old), probe(B(run, t), acc(B(run, t), PROBE)),
              probe(B(run, t), worst_gap(B(run, t), new)), loss(B(run, t), new), loss(B(run, t), old), ratio(B(run, t), new, old)]
             for run, new, old, kind, *tasks in head_runs for t in (tasks[0] if tasks else HEAD_TASKS)])

# The head stage from the best weight-decay try's head, 20 epochs (kept): beside the 40-epoch head stage from the head the tries
# started from, the default then; the development pilot ran from a scratch wrapper with battery.py's `from_best_try` patch (at b7fd4c5)
WARM_HEAD = "auto, 20 head epochs from the best try's head"
WARM_RUNS = [('pilot-warm', 'warm20', AUTO, 'development', ('hymenoptera', 'faces', 'textures')), ('confirm1400', WARM_HEAD, AUTO, 'held out')]

# 5-epoch weight-decay tries (dropped after the development pilot): the tries alone, and with a 25-epoch head stage after them
TRIES5, TRIES5_HEAD25 = "auto, 5-epoch weight-decay tries (sweep_epochs=5)", "auto, 5-epoch tries, 25 head epochs (sweep_epochs=5, freeze_epochs=25)"
TRIES5_RUNS = lambda c: [('pilot-tries5', c, AUTO, 'development', ('hymenoptera', 'faces', 'textures'))]

# Few-shot fine-tuning at the weight decay chosen (a fix, a9067d5): beside the recipe as it ran before, at the last try's
LAST_TRY_WD = "auto, few-shot fine-tuning at the last try's wd (before the fix)"

SEEDS_EXTRA = {'confirm1400': (WARM_HEAD,), 'confirm1500': (LAST_TRY_WD,)}   # configs a run's seeds table shows before the recipe's: a change run beside the default

def battery_seeds(run, tasks=BATTERY):
    "Each config's test accuracy per seed in a run"
    return (['task', 'seeds', 'config', 'test accuracy per seed'],
            [[BATTERY[t] if i == 0 else '', span(B(run, t)) if i == 0 else '', c, seeds(B(run, t), c)] for t in tasks
             for i, c in enumerate((*SEEDS_EXTRA.get(run, ()), AUTO, PROBE, FT))])

def heading(run):
    "A run's heading in battery-history.md"
    name = f'battery-{run.name}'
    return f"## {run.name}: seeds {span(name)()}, {commit(name)()}, {run.change}"

def pooled(files, task):
    "The recipe against the probe over the seeds of several runs of one task: means, and seeds level, above, below"
    def f():
        g = [x for file in files for x in _gaps(B(file, task)).values()]
        a = st.mean(r['test'] for file in files for r in runs(B(file, task), AUTO)); p = st.mean(r['test'] for file in files for r in runs(B(file, task), PROBE))
        return (f"{a:.3f} against the probe's {p:.3f} over {len(g)} seeds: level on {sum(abs(x) < 1e-9 for x in g)}, "
                f"above on {sum(x > 1e-9 for x in g)}, below on {sum(x < -1e-9 for x in g)}")
    return f

# The recipe tables (recipe.py): recipe4-* and ls3-digits are the recipe with label smoothing; recipe3-* ran every column a
# setting needs in one earlier run, without label smoothing, and recipe4 re-ran only the recipe at 160 px, with Lite2 and on digits
R128, R128T, R160, RL2, LS3 = 'recipe4-lite0-128px', 'recipe4-lite0-128px-time', 'recipe4-lite0-160px', 'recipe4-lite2-224px', 'ls3-digits'
O160, OL2, OD = 'recipe3-lite0-160px', 'recipe3-lite2-224px', 'recipe3-digits-lite0-48px'
RL2H, TIME = 'recipe5-lite2-224px-heldout', 'recipe-lite0-128px-time-69b29fb'   # Lite2 on fresh seeds 300-302; the headline's code timed alone
LITE2 = [RL2H] + [B(r, 'hymenoptera-224') for r in ('confirm700', 'confirm1100', 'guard1200')]   # every held-out Lite2 run
L2 = 'confirm1100'   # the newest battery run with Lite2 (the recipe with its 40-epoch head stage)
DIGITS = "digits (the demo: `epochs=12, lr_mult=30`), Lite0, 48 px, 5 seeds"
lite2_label = lambda f: lambda: f'hymenoptera, Lite2, 224 px, held-out seeds {span(f)()} ({commit(f)()})'
results = lambda f: f'`{f.partition(":")[0]}`' + (f', task `{f.partition(":")[2]}`' if ':' in f else '')
ADAPTIVE = [('budget 8, 128 px, 4 seeds', 'adaptive-128px-budget8'), ('budget 6, 96 px, 4 seeds; 1-2 other jobs', 'adaptive-96px-budget6'),
            ('budget 4, 64 px, 3 seeds; 2-5 other jobs', 'adaptive-64px-budget4')]
OVERHEAD = ['fastai fine_tune', 'staged (defaults)', "staged bn='freeze' in frozen stage", "staged bn='freeze' + feature cache"]
CL = lambda i, k: field('channels-last', lambda d: d['rows'][i][k], '{:.3f} s')
CL_RATIO = lambda i, k: field('channels-last', lambda d: d['rows'][i][f'{k}_default']/d['rows'][i][f'{k}_channels_last'], '{:.2f}x')
SHARE = lambda fmt: field('profile_overhead', lambda d: d['callbacks_cumulative_s']/d['total_s'], fmt)

KINDS = [('multi-label, hymenoptera (accuracy_multi)', 'kinds-hymenoptera-multilabel', False),
         ('regression, digit/9 (rmse, lower is better)', 'kinds-digits-regression', True),
         ('segmentation, textures (pixel accuracy)', 'kinds-textures-segmentation', False)]
KINDS_NOW = {'kinds-hymenoptera-multilabel': 'kinds-hymenoptera-multilabel-headvalid', 'kinds-digits-regression': 'kinds-digits-regression-headvalid',
             'kinds-textures-segmentation': 'kinds-textures-segmentation-probehead'}   # the recipe alone, re-run on the same seeds and splits

# profile_recipe.py: recipe='auto' part by part beside fine_tune(3) in the same process; `before` at the commit that
# added the timing, `after` with the recipe's time work (validation only where a choice reads it, kept validation batches)
PROFILE_TASKS = {'hymenoptera': ('hymenoptera, 128 px', 1.3), 'faces': ('faces or not, 64 px', 1.5), 'hymenoptera-8shot': ('hymenoptera, 8 photos per class', 1.5),
                 'textures-4shot': ('textures, 4 tiles per class', 1.5), 'digits': ('digits, 48 px (12 fine-tuning epochs against 4)', 4.0)}
PROFILES = [('before', 'before'), ('after', 'after'), ('last-batches', 'last batches'), ('exact-savings', 'two-item shape'), ('kept-outputs', 'kept outputs'),
            ('warm-head', 'head stage from the best try'), ('quiet-tries', "tries outside fastai's loop"), ('drift-cache', 'drift from the cache')]   # every profile, oldest first: its results name and its column
SHARES = ('before', 'kept-outputs', 'warm-head', 'quiet-tries', 'drift-cache')   # the profiles whose heads' share the table shows
LAST = PROFILES[-1][0]   # the newest profile: the parts table and the head-loop figures read it
PROFILE_PARTS = ['cache build', 'weight-decay tries', 'probe', 'drift', 'stage head', 'final choice', 'other']

def prof(name, task, f, fmt='{:.2f}'):
    "Median over the seeds of `task` in results/profile-NAME.json of `f(row)`, formatted"
    return lambda: fmt.format(st.median(f(r) for r in rows_of(f'profile-{name}:{task}')))

def prof_ratio(name, task): return prof(name, task, lambda r: r['wall']/r['fine_tune'], '{:.2f}x')
def prof_share(name, task, part): return prof(name, task, lambda r: r['parts'].get(part, 0)/r['wall'], '{:.0%}')
def prof_part(name, task, part): return prof(name, task, lambda r: r['parts'].get(part, 0), '{:.1f} s')
def prof_ft(name, task): return prof(name, task, lambda r: sum(v for k, v in r['parts'].items() if k.startswith('stage ') and k != 'stage head'), '{:.1f} s')

TRY_EPOCHS = 3*10   # the recipe's cached head epochs: 3 weight-decay tries of 10 (and a head stage's, where a profile row ran one)
def head_epochs(r): return TRY_EPOCHS + sum(e for name, e in r['stages'] if name == 'head')

def head_floor(task, arithmetic=False):
    """The heads' cached epochs (the tries, and a head stage where it ran) at the plain loop's cost per step (head-loop), in a
    recipe run of the newest profile; with `arithmetic`, at their forward and backward alone (no optimizer, no loop)"""
    def f():
        loop, pr = rows_of(f'head-loop:{task}'), rows_of(f'profile-{LAST}:{task}')
        per_step = (lambda r: r['forward_backward_ms']/1e3) if arithmetic else (lambda r: r['plain_s']/r['steps'])
        step = st.median(per_step(r) for r in loop) * st.median(r['steps'] for r in loop) / TRY_EPOCHS   # seconds per cached epoch
        s = st.median(step * head_epochs(r) for r in pr)
        wall = st.median(r['wall'] - r['parts']['heads'] + r['parts'].get('probe', 0) + step * head_epochs(r) for r in pr)
        return f"{s:.1f} s, {s/wall:.0%} of a run" + ('' if arithmetic else f" that would take {wall/st.median(r['fine_tune'] for r in pr):.2f}x `fine_tune(3)`'s wall")
    return f

HEAD_LOOP = {'hymenoptera': 'hymenoptera, 128 px', 'faces': 'faces or not, 64 px'}
def hl(task, f, fmt): return lambda: fmt.format(st.median(f(r) for r in rows_of(f'head-loop:{task}')))

TABLES = {
    'head-loop': (['task (3 seeds each)', 'steps (3 tries x 10 epochs)', "fastai's loop (`fit_scores`)", "`fit_head` (the recipe's)", 'plain PyTorch loop', 'fastai / plain',
                   'a step: forward and backward', 'a step: `AdamW(foreach=True)`', "a step: fastai's `Adam`"],
        [[label, hl(t, lambda r: r['steps'], '{:.0f}'), hl(t, lambda r: r['fastai_s'], '{:.2f} s'), hl(t, lambda r: r['fit_head_s'], '{:.2f} s'), hl(t, lambda r: r['plain_s'], '{:.2f} s'),
          hl(t, lambda r: r['fastai_s']/r['plain_s'], '{:.2f}x'), hl(t, lambda r: r['forward_backward_ms'], '{:.1f} ms'),
          hl(t, lambda r: r['adamw_foreach_step_ms'], '{:.1f} ms'), hl(t, lambda r: r['fastai_adam_step_ms'], '{:.1f} ms')] for t, label in HEAD_LOOP.items()]),
    'battery-runs': (['results', 'seeds', 'commit', 'what changed before it', 'tasks', "held-out bar not met"],
        [[f'`battery-{r.name}`', span(f'battery-{r.name}'), commit(f'battery-{r.name}'), r.change, str(len(r.tasks)), shortfalls(r.name, r.tasks)] for r in OTHER_RUNS]),
    'kinds': (['learner kind, data (test score)', 'fastai `fine_tune(3)`', 'head-only floor', lambda: f"`recipe='auto'` at {commit(KINDS[0][1])()}", 'wall / `fine_tune(3)`',
               "`recipe='auto'` re-run, same seeds and splits"],
        [[f'{label} (`{f}`)', score(f, FT, lower), score(f, 'head-only floor', lower), score(f, AUTO, lower), ratio(f, AUTO),
          (lambda f, lower: lambda: f'{score(KINDS_NOW[f], AUTO, lower)()} at {commit(KINDS_NOW[f])()} (`{KINDS_NOW[f]}`)')(f, lower)] for label, f, lower in KINDS]),
    'head-stage': head_table(HEAD_RUNS, 'no head stage', 'the 40-epoch head stage'),
    'head-warm': head_table(WARM_RUNS, '20 epochs from the best try', 'the 40-epoch head stage'),
    'tries5': head_table(TRIES5_RUNS(TRIES5), '5-epoch tries', "10-epoch tries"),
    'tries5-head25': head_table(TRIES5_RUNS(TRIES5_HEAD25), '5-epoch tries, 25 head epochs', "10-epoch tries, 20 head epochs"),
    'headline': (['task', 'fastai `fine_tune(3)`', 'linear probe on the frozen body', "`recipe='auto'`"],
        [[label, acc(B(HEADLINE.name, t), FT), acc(B(HEADLINE.name, t), PROBE), acc(B(HEADLINE.name, t), AUTO)] for t, label in BATTERY.items()]),
    'recipe': (['', 'fastai `fine_tune(3)`', 'linear probe', "`recipe='auto'`", 'without label smoothing', 'results'], [
        [f'hymenoptera, Lite0, 128 px, {nseeds(R128)} seeds', acc(R128, FT), acc(R128, PROBE), acc(R128, AUTO), acc(R128, NO_LS), f'`{R128}`'],
        [f'hymenoptera, Lite0, 160 px, {nseeds(O160)} seeds', acc(O160, FT), acc(O160, PROBE), acc(R160, AUTO), acc(O160, AUTO), f'`{R160}`; the rest `{O160}`'],
        [f'hymenoptera, Lite2, 224 px, {nseeds(OL2)} seeds', acc(OL2, FT), acc(OL2, PROBE), acc(RL2, AUTO), acc(OL2, AUTO), f'`{RL2}`; the rest `{OL2}`'],
        *[[lite2_label(f), acc(f, FT), acc(f, PROBE), acc(f, AUTO), '-', results(f)] for f in LITE2],
        [DIGITS, acc(OD, FT), acc(OD, PROBE), acc(LS3, DEMO_LS), acc(OD, DEMO), f'`{LS3}`; the rest `{OD}`']]),
    'recipe-seeds': (['', "`recipe='auto'`", 'without label smoothing', 'linear probe', 'fastai `fine_tune(3)`'], [
        ['Lite0, 128 px', seeds(R128, AUTO), seeds(R128, NO_LS), seeds(R128, PROBE), seeds(R128, FT)],
        ['Lite0, 160 px', seeds(R160, AUTO), seeds(O160, AUTO), seeds(O160, PROBE), seeds(O160, FT)],
        ['Lite2, 224 px', seeds(RL2, AUTO), seeds(OL2, AUTO), seeds(OL2, PROBE), seeds(OL2, FT)],
        *[[(lambda f: lambda: f'Lite2, 224 px, seeds {span(f)()}')(f), seeds(f, AUTO), '-', seeds(f, PROBE), seeds(f, FT)] for f in LITE2],
        ['digits', seeds(LS3, DEMO_LS), seeds(OD, DEMO), seeds(OD, PROBE), seeds(OD, FT)]]),
    'recipe-time': (['results', 'config timed', '`fine_tune(3)` wall (median)', 'wall / `fine_tune(3)`', "time to `fine_tune(3)`'s final accuracy / its wall"], [
        [f"`{TIME}` (the headline's code, alone, 2 threads)", "`recipe='auto'`", wall(TIME, FT), ratio(TIME, AUTO), reach(TIME, AUTO)],
        [f'`{R128}`', "`recipe='auto'`", wall(R128, FT), ratio(R128, AUTO), reach(R128, AUTO)],
        [f'`{R128}`', 'without label smoothing', wall(R128, FT), ratio(R128, NO_LS), reach(R128, NO_LS)],
        [f'`{R128T}` (a re-run)', "`recipe='auto'`", wall(R128T, FT), ratio(R128T, AUTO), reach(R128T, AUTO)],
        [f'`{O160}`', 'without label smoothing', wall(O160, FT), ratio(O160, AUTO), reach(O160, AUTO)],
        [f'`{OL2}`', 'without label smoothing', wall(OL2, FT), ratio(OL2, AUTO), reach(OL2, AUTO)],
        [f'`{RL2H}` (1 thread, tests running beside it part of the time)', "`recipe='auto'`", wall(RL2H, FT), ratio(RL2H, AUTO), reach(RL2H, AUTO)],
        [f'`{OD}`', "the demo's settings without label smoothing", wall(OD, FT), ratio(OD, DEMO), reach(OD, DEMO)]]),
    'overhead': (['config', 'accuracy', 'wall (median)', 'wall / `fine_tune`', 'frozen epochs after the first: speed-up', 'peak RSS growth (median)'],
        [[c, acc('overhead', c, 'accuracy'), wall('overhead', c), ratio('overhead', c, 'fastai fine_tune'), speedup('overhead', c),
          stat('overhead', c, lambda rs: st.median(r['peak_mb'] for r in rs), '{:.0f} MB')] for c in OVERHEAD]),
    'profile': (['run', 'total', "fastai_ft's callbacks, with the fastai code they call", 'share of the run'], [
        ["synthetic learner, `staged_fine_tune`'s defaults", field('profile_overhead', lambda d: d['total_s'], '{:.1f} s'),
         field('profile_overhead', lambda d: d['callbacks_cumulative_s'], '{:.3f} s'), SHARE('{:.2%}')]]),
    'adaptive': (['budget, size, seeds', 'config', 'accuracy', 'frozen epochs used, per seed', 'epochs run (median)', 'wall (median)'],
        lambda: [[f'{label} (`{f}`)' if i == 0 else '', f'`{c}`', acc(f, c, 'accuracy'), stat(f, c, lambda rs: ', '.join(str(r['stages'][0]['epochs']) for r in rs), '{}'),
                  stat(f, c, lambda rs: st.median(r['epochs'] for r in rs), '{:g}'), wall(f, c)]
                 for label, f in ADAPTIVE for i, c in enumerate(dict.fromkeys(r['config'] for r in load(f)['rows']))]),   # every config of a file
    'channels-last': (['model', 'training step, default', 'channels-last', 'speed-up', 'inference, default', 'channels-last', 'speed-up'],
        [[f'Lite{a}, {s} px', CL(i, 'train_step_default'), CL(i, 'train_step_channels_last'), CL_RATIO(i, 'train_step'),
          CL(i, 'inference_default'), CL(i, 'inference_channels_last'), CL_RATIO(i, 'inference')] for i, (a, s) in enumerate([(0, 48), (0, 128), (2, 224)])]),
    'profile-recipe': (['task (3 seeds each)', '`fine_tune(3)` wall', "`recipe='auto'` wall",
                        *[(lambda n, l: lambda: f"{l} ({commit(f'profile-{n}')()})")(n, ('recipe / `fine_tune(3)`, ' if i == 0 else '') + l) for i, (n, l) in enumerate(PROFILES)], 'bar',
                        *[("the heads' share of the recipe's wall, " if i == 0 else '') + dict(PROFILES)[n] for i, n in enumerate(SHARES)]],
        [[label, prof(LAST, t, lambda r: r['fine_tune'], '{:.1f} s'), prof(LAST, t, lambda r: r['wall'], '{:.1f} s'), *[prof_ratio(n, t) for n, _ in PROFILES],
          f'{bar:g}x', *[prof_share(n, t, 'heads') for n in SHARES]]
         for t, (label, bar) in PROFILE_TASKS.items()]),
    'profile-parts': (['task', *PROFILE_PARTS[:4], 'head stage', 'fine-tuning stages', *PROFILE_PARTS[5:]],
        [[label, *[prof_part(LAST, t, p) for p in PROFILE_PARTS[:5]], prof_ft(LAST, t), *[prof_part(LAST, t, p) for p in PROFILE_PARTS[5:]]]
         for t, (label, _) in PROFILE_TASKS.items()]),
    'speed': (['', 'measured', 'results file'], [
        ["fastai_ft's callbacks in a run with the defaults (= `fine_tune`), synthetic learner", SHARE('{:.2%} of its time'), '`profile_overhead`'],
        ["frozen epochs after the first, `bn='freeze'`", speedup('overhead', OVERHEAD[2], note=" faster than `fine_tune`'s"), '`overhead`'],
        ['frozen epochs after the first, feature cache', speedup('overhead', OVERHEAD[3], note=" faster than `fine_tune`'s"), '`overhead`'],
        ['a training step, channels-last weights (Lite0 48 px, 128 px; Lite2 224 px)',
         lambda: ', '.join(CL_RATIO(i, 'train_step')() for i in range(3)) + ' faster', '`channels-last`']]),
}
def _region_name(run): return 'battery' if run.name == 'final' else f'battery-{run.name}'
TABLES.update({_region_name(r): battery_table(r.name, r.tasks, wall=r.tasks == tuple(BATTERY)) for r in RUNS})
TABLES.update({f'{_region_name(r)}-seeds': battery_seeds(r.name, r.tasks) for r in RUNS if r.per_seed})

H = HEADLINE.name
FIGS = {
    'no-head-stage-estimate': lambda: ', '.join(f"{PROFILE_TASKS[t][0]} {x}" for t in ('hymenoptera', 'faces', 'digits') for x in [prof('exact-savings', t, lambda r: (r['wall'] - r['parts'].get('stage head', 0))/r['fine_tune'], '{:.2f}x')()]),   # the profile the no-head run was decided on
    'head-floor-hymenoptera': head_floor('hymenoptera'),
    'head-floor-faces': head_floor('faces'),
    'head-arithmetic-hymenoptera': head_floor('hymenoptera', arithmetic=True),
    'headline-met': lambda: f"{sum(all(_bar(B(H, t))) for t in HEADLINE.tasks)} of {len(HEADLINE.tasks)}",
    'headline-shortfalls': shortfalls(H, HEADLINE.tasks),
    'digits-headline-min': stat(B(H, 'digits'), AUTO, lambda rs: min(r['test'] for r in rs)),
    'lite2-headline': lambda: (lambda a: f"{'met' if a >= 0.965 else 'not met'}: {a:.3f} against the probe's {mean(B(L2, 'hymenoptera-224'), PROBE)()}")(
        st.mean(r['test'] for r in runs(B(L2, 'hymenoptera-224'), AUTO))),
    'lite2-vs-probe': versus(B(L2, 'hymenoptera-224')),
    'lite2-best': lambda: max((mean(f, AUTO)() for f in LITE2), key=float),
    'lite2-runs': lambda: str(len(LITE2)),
    '8shot-pooled': pooled(('confirm900', 'confirm1000', 'confirm1100', 'confirm1300'), 'hymenoptera-8shot'),
    '8shot-pooled-4aa6912': pooled(('confirm900', 'confirm1000'), 'hymenoptera-8shot'),
    'time-headline': lambda: (lambda w, r: f"{w:.2f}x `fine_tune(3)`'s wall and {r:.2f}x to reach its accuracy, medians of {nseeds(TIME)} seeds: "
                              f"{'met' if w <= 1.5 and r <= 0.5 else 'not met'}")(_per_seed(TIME, AUTO, FT, lambda r, b: r['wall']/b['wall']), _per_seed(TIME, AUTO, FT, _reach)),
    'digits-demo-min': stat(LS3, DEMO_LS, lambda rs: (lambda m: f"{'holds' if m >= 0.97 else 'fails'}: the lowest seed {m:.3f}")(min(r['test'] for r in rs)), '{}'),
    **{f'{r.name}-{t}': versus(B(r.name, t)) for r in RUNS for t in r.tasks},   # e.g. fig:guard1200-hymenoptera
    **{f'confirm1300-default-{t}': versus(B('confirm1300', t), config=OLD_HEAD) for t in HEAD_TASKS},
    **{f'confirm1400-{t}': versus(B('confirm1400', t), config=WARM_HEAD) for t in HEAD_TASKS},
    **{f'confirm1400-default-{t}': versus(B('confirm1400', t)) for t in HEAD_TASKS},
    **{f'confirm1500-before-{t}': versus(B('confirm1500', t), config=LAST_TRY_WD) for t in FEW_SHOT},
}

# Text a command printed, shown as it printed it: demo.py stores `fastai-ft demo`'s report and accuracy line
BLOCKS = {
    'demo-report': lambda: '\n'.join(load('demo')['rows'][0]['report']),
}

def cell(c): return c() if callable(c) else str(c)

def render(name):
    "TABLES[name] as markdown"
    header, rows = TABLES[name]
    lines = ['| ' + ' | '.join(map(cell, header)) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(cell(c) for c in r) + ' |' for r in (rows() if callable(rows) else rows)]) + '\n'

_table = re.compile(r'(<!-- table:([\w-]+) -->\n)(.*?)(<!-- /table:\2 -->)', re.S)
_fig = re.compile(r'(<!-- fig:([\w-]+) -->)(.*?)(<!-- /fig:\2 -->)', re.S)
_commands = re.compile(r'(<!-- commands:([\w-]+) -->\n)(.*?)(<!-- /commands:\2 -->)', re.S)
_block = re.compile(r'(<!-- block:([\w-]+) -->\n)(.*?)(<!-- /block:\2 -->)', re.S)
_heading = re.compile(r'^## ([\w-]+): .*$', re.M)

def commands(file):
    "The commands that wrote results/FILE.json, as a sh block"
    c = load(file)['command']
    return '```sh\n' + '\n'.join(c if isinstance(c, list) else [c]) + '\n```\n'

def fill(text, where, stale, headings=False):
    "`text` with every region filled in; the regions that changed go to `stale`"
    def sub(kind, known, make):
        def f(m):
            if m[2] not in known: sys.exit(f"{where}: no {kind} named {m[2]!r} in benchmarks/tables.py (known: {', '.join(sorted(known))})")
            try: new = make(m[2])
            except (OSError, LookupError, ValueError, KeyError) as e: sys.exit(f"{where}: {kind} {m[2]!r}: {e!r}")
            if new != m[3]: stale.append(f'{where}: {kind} {m[2]}')
            return m[1] + new + m[4]
        return f
    text = _table.sub(sub('table', TABLES, render), text)
    text = _fig.sub(sub('fig', FIGS, lambda n: cell(FIGS[n])), text)
    text = _block.sub(sub('block', BLOCKS, lambda n: '```text\n' + BLOCKS[n]() + '\n```\n'), text)
    text = _commands.sub(sub('commands', {f.stem for f in RESULTS.glob('*.json')}, commands), text)
    if headings:
        by = {r.name: r for r in RUNS}
        def h(m):
            if m[1] not in by: return m[0]
            if (new := heading(by[m[1]])) != m[0]: stale.append(f'{where}: heading of {m[1]}')
            return new
        text = _heading.sub(h, text)
        if missing := [r.name for r in RUNS if not re.search(rf'^## {r.name}: ', text, re.M)]: stale.append(f'{where}: no heading for {", ".join(missing)}')
    return text

def audit():
    "What is wrong with results/ itself: a file no region read, one without command, commit or seeds, anything but JSON"
    files = sorted(f for f in RESULTS.iterdir() if not f.name.startswith('.'))
    bad = [f'results/{f.name}: not a JSON results file' for f in files if f.suffix != '.json']
    bad += [f'results/{f.name}: no region reads it (delete it, git keeps it, or give it a table)' for f in files if f.suffix == '.json' and f.stem not in READ]
    bad += [f'results/{f.name}: no {k}' for f in files if f.suffix == '.json' for k in ('command', 'commit', 'seeds') if k not in load(f.stem)]
    return bad

def main(check=False):
    stale, nb_path = [], ROOT/'nbs'/'index.ipynb'
    mds = {f: fill(f.read_text(), f'benchmarks/{f.name}', stale, headings=f.name == 'battery-history.md') for f in MARKDOWN}
    nb = json.loads(nb_path.read_text())
    for c in nb['cells']:
        if c['cell_type'] == 'markdown' and any(f'<!-- {k}:' in (src := ''.join(c['source'])) for k in ('table', 'fig', 'block')):
            c['source'] = fill(src, f"nbs/index.ipynb (cell {c['id']})", stale).splitlines(keepends=True)
    if bad := audit(): sys.exit('benchmarks/results/:\n  ' + '\n  '.join(bad))
    if check:
        if stale: sys.exit('Out of date with benchmarks/results/ (run `python benchmarks/tables.py`):\n  ' + '\n  '.join(stale))
        return
    if stale:
        for f, md in mds.items(): f.write_text(md)
        nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')   # as nbdev-clean writes it
        subprocess.run([sys.executable, str(ROOT/'.ci'/'readme.py')], check=True)
    print('\n'.join(stale) or 'every table and figure is up to date')

if __name__ == '__main__': main('--check' in sys.argv[1:])
