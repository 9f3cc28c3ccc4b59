"""The measured tables of benchmarks/README.md, benchmarks/battery-history.md and README.md, generated from the result files in benchmarks/results/.

    python benchmarks/tables.py           # rewrite every table region, then README.md from nbs/index.ipynb
    python benchmarks/tables.py --check   # exit 1, naming each stale table, when a region differs from what the files give

A region is everything between `<!-- table:NAME -->` and `<!-- /table:NAME -->` in a file of MARKDOWN or in a markdown
cell of nbs/index.ipynb (README.md is rendered from it by .ci/readme.py). Its content is TABLES[NAME], rendered.

TABLES[NAME] is (header, rows): the column titles, and a list of rows (or a function returning it), each a list of
cells. A cell is a plain string or one of the helpers below. Each helper reads one results file, `FILE` meaning
benchmarks/results/FILE.json, and computes its figure from the file's `rows` (never its `summary`), so every figure is
rounded once. `config` picks the rows with that `config`, in seed order; `note=` is text appended to the figure.

    acc(file, config)           mean ± sd (min) of the test accuracy over seeds, 3 decimals (key='accuracy': overhead.py's rows)
    seeds(file, config)         the per-seed values
    ratio(file, config)         median over seeds of the run's wall time / fine_tune(3)'s on that seed in the same file
    reach(file, config)         median over seeds of the time the run first held fine_tune(3)'s final test accuracy,
                                over fine_tune(3)'s wall time ('never' when half or more never did)
    wall(file, config)          median wall time in seconds
    speedup(file, config)       overhead.py: median over seeds of fine_tune's time per frozen epoch after the first,
                                over the config's
    stat(file, config, f, fmt)  anything else: fmt.format(f(rows of the config))
    field(file, f, fmt)         a figure of a file without config rows: fmt.format(f(the whole JSON))
    compare(label, file)        the usual row of one results file of recipe.py: label, then acc() of fine_tune(3), the
                                linear probe and recipe='auto', then ratio() of recipe='auto'

To add a table: add an entry to TABLES, put the two markers on lines of their own where it goes, run this script. For
example, a battery of tasks, one results file per task written by recipe.py's machinery (battery-<task>.json):

    'battery': (COMPARE, [compare(task, f'battery-{task}') for task in ('hymenoptera', 'digits', 'faces', 'textures')]),

and in the README:

    <!-- table:battery -->
    <!-- /table:battery -->
"""
import json, re, statistics as st, subprocess, sys
from collections import namedtuple
from functools import cache
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT, RESULTS = BENCH.parent, BENCH/'results'
MARKDOWN = [BENCH/'README.md', BENCH/'battery-history.md']   # the files with table regions, beside nbs/index.ipynb
FT, PROBE, AUTO = 'fastai fine_tune(3)', 'linear probe', "recipe='auto'"
NO_LS = 'auto without label smoothing (label_smoothing=0)'
DEMO, DEMO_LS = "recipe='auto', the demo's settings (epochs=12, lr_mult=30)", "the demo's settings, label_smoothing=0.1"

@cache
def load(file):
    "The JSON of results file `file`"
    return json.loads((RESULTS/f'{file}.json').read_text())

def runs(file, config):
    "The rows of `config` in `file`, in seed order"
    rows = load(file)['rows']
    rs = sorted((r for r in rows if r.get('config') == config), key=lambda r: r['seed'])
    if not rs: raise LookupError(f"results/{file}.json has no rows of config {config!r} (it has {sorted({r.get('config') for r in rows})})")
    return rs

def stat(file, config, f, fmt='{:.3f}', note=''):
    "Any figure: `f` of the rows of `config`, formatted"
    return lambda: fmt.format(f(runs(file, config))) + note

def field(file, f, fmt='{}', note=''):
    "A figure of a results file that has no config rows: `f` of its JSON, formatted"
    return lambda: fmt.format(f(load(file))) + note

def _acc(v, d=3):
    return f'{v[0]:.{d}f}' if len(v) == 1 else f'{st.mean(v):.{d}f} ± {st.stdev(v):.{d}f} (min {min(v):.{d}f})'

def acc(file, config, key='test', note=''): return stat(file, config, lambda rs: _acc([r[key] for r in rs]), '{}', note)
def seeds(file, config, key='test'): return stat(file, config, lambda rs: ' '.join(f'{r[key]:.3f}' for r in rs), '{}')
def wall(file, config, note=''): return stat(file, config, lambda rs: st.median(r['wall'] for r in rs), '{:.0f} s', note)

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

COMPARE = ['', 'fastai `fine_tune(3)`', 'linear probe', "`recipe='auto'`", 'wall / `fine_tune(3)`']
def compare(label, file): return [label, acc(file, FT), acc(file, PROBE), acc(file, AUTO), ratio(file, AUTO)]

# The current recipe tables: recipe4-* and ls3-digits are the recipe as it is; recipe3-* ran every column a setting needs
# in one earlier run, without label smoothing, and recipe4 re-ran only the recipe at 160 px, with Lite2 and on digits
R128, R128T, R160, RL2, LS3 = 'recipe4-lite0-128px', 'recipe4-lite0-128px-time', 'recipe4-lite0-160px', 'recipe4-lite2-224px', 'ls3-digits'
O160, OL2, OD = 'recipe3-lite0-160px', 'recipe3-lite2-224px', 'recipe3-digits-lite0-48px'
L2C = 'battery-hymenoptera-224-confirm1100'   # Lite2 at 224 px on seeds 1100-1102 (69b29fb), never run before
L2D = 'battery-hymenoptera-224-guard1200'     # the same recipe on seeds 1200-1202 (0121e38), never run before, 1 thread beside another run
L2B = 'battery-hymenoptera-224-confirm700'   # Lite2 at 224 px on seeds 700-702 (3790bc7), never run before; battery.py's split: 20% of train/ validates, val/ tests
RL2H, RHV = 'recipe5-lite2-224px-heldout', 'recipe-lite0-128px-headvalid'   # Lite2 on seeds 300-302, never run before (a7baf67); the 128 px timing of the heads validated on cached features
ADAPTIVE = [('budget 8, 128 px, 4 seeds', 'adaptive-128px-budget8'), ('budget 6, 96 px, 4 seeds; 1-2 other jobs', 'adaptive-96px-budget6'),
            ('budget 4, 64 px, 3 seeds; 2-5 other jobs', 'adaptive-64px-budget4')]
OVERHEAD = ['fastai fine_tune', 'staged (defaults)', "staged bn='freeze' in frozen stage", "staged bn='freeze' + feature cache"]
CL = lambda i, k: field('channels-last', lambda d: d['rows'][i][k], '{:.3f} s')
CL_RATIO = lambda i, k: field('channels-last', lambda d: d['rows'][i][f'{k}_default']/d['rows'][i][f'{k}_channels_last'], '{:.2f}x')
SHARE = lambda fmt: field('profile_overhead', lambda d: d['callbacks_cumulative_s']/d['total_s'], fmt)
DIGITS = "digits (the demo: `epochs=12, lr_mult=30`), Lite0, 48 px, 5 seeds"

# The held-out battery (battery.py): the final version on seeds 100-104, never run before; its baseline (44c72bb) on 0-4
BATTERY = {'hymenoptera': 'hymenoptera, 128 px (153 test photos)', 'hymenoptera-8shot': 'hymenoptera, 8 photos per class',
           'digits': 'digits, 48 px, the demo (360 test images)', 'faces': 'faces or not, 64 px (60 test images)',
           'textures': 'textures, 24 tiles per class (75 test tiles)', 'textures-8shot': 'textures, 8 tiles per class',
           'textures-4shot': 'textures, 4 tiles per class'}
FEW_SHOT = ('hymenoptera-8shot', 'textures-8shot', 'textures-4shot')   # the tasks the few-shot reference and probe decide
TWO_CLASS = ('hymenoptera', 'hymenoptera-8shot', 'faces')
Run = namedtuple('Run', 'name seeds code change tasks per_seed')   # per_seed: the seeds its per-seed table names, or None for no such table
# The battery's runs, battery-<task>-<name>, each on seeds no version had run before: the headline first, then the others, newest first.
# Each gets the region battery-<name> (the final run's is `battery`), and battery-<name>-seeds when it has `per_seed`.
RUNS = [
    Run('confirm1100', '1100-1109', '69b29fb', "the code of 4aa6912 (+ a guard no task reaches), every task and Lite2: the headline", tuple(BATTERY),
        'seeds 1100-1104 (8 photos per class: 1100-1109)'),
    Run('guard1200', '1200-1209', '0121e38', "nothing: the headline's recipe again, after it (run to test the loss guard, which was dropped)",
        ('hymenoptera', 'faces', 'textures'), 'seeds 1200-1209'),
    Run('confirm1000', '1000-1019', '4aa6912', 'nothing: the same code on 20 more seeds', ('hymenoptera-8shot',), None),
    Run('confirm900', '900-909', '4aa6912', "the few-shot probe head is scikit-learn's fit", FEW_SHOT, 'seeds 900-904 (8 photos per class: 900-909)'),
    Run('confirm800', '800-809', 'c87515d', "the probe head's C on scikit-learn's scale", TWO_CLASS, 'seeds 800-804 (8 photos per class: 800-809)'),
    Run('confirm700', '700-704', '3790bc7', "06b5db5's choices on every task (the previous headline)", tuple(BATTERY), 'seeds 700-704'),
    Run('confirm600', '600-609', '06b5db5', 'the probe head on the average-pooled features of the clean pass', ('hymenoptera', *FEW_SHOT, 'faces'), 'seeds 600-609'),
    Run('confirm500', '500-509', 'cc8438d', 'below 16 items per class the probe head is the reference', FEW_SHOT, None),
    Run('confirm400', '400-404', 'b3c7268', 'the probe head fitted on every cached pass', tuple(BATTERY), 'seeds 400-404'),
    Run('confirm', '200-204', '3a5c663', 'the linear probe head, the few-shot reference', tuple(BATTERY), 'seeds 200-204'),
    Run('final', '100-104', '98e66bb', "issue 21's first changes (the head's batches, the budget from the drift, few-shot without a head stage...)", tuple(BATTERY), 'seeds 100-104'),
    Run('baseline', '0-4 (development)', '44c72bb', 'before issue 21', tuple(t for t in BATTERY if t != 'hymenoptera'), None)]   # its table: battery-baseline below
HEADLINE = lambda task: f'battery-{task}-{RUNS[0].name}'
OTHER_RUNS = RUNS[1:]   # the summary table's rows: every run but the headline

def _gaps(file, config=AUTO, base=PROBE):
    b = {r['seed']: r['test'] for r in runs(file, base)}
    return [r['test'] - b[r['seed']] for r in runs(file, config) if r['seed'] in b]

def worst_gap(file): return lambda: f'{min(_gaps(file)):+.3f}'

def bar(file):
    "issue 21's bar: the recipe's mean >= the better of the probe's and fine_tune(3)'s, and no seed more than 0.03 below the probe"
    def f():
        m = lambda c: st.mean(r['test'] for r in runs(file, c))
        ok_mean, ok_seed = m(AUTO) >= max(m(PROBE), m(FT)) - 1e-9, min(_gaps(file)) >= -0.03 - 1e-9
        return 'met' if ok_mean and ok_seed else 'not met (' + ', '.join(w for w, ok in (('mean', ok_mean), ('a seed', ok_seed)) if not ok) + ')'
    return f

def score(file, config, lower=False):
    "mean ± sd (worst) of the test score over seeds, the worst being the max when lower is better"
    return stat(file, config, lambda rs: (lambda v: f'{st.mean(v):.3f} ± {st.stdev(v):.3f} ({"max" if lower else "min"} {(max if lower else min)(v):.3f})')([r['test'] for r in rs]), '{}')

def battery_table(run, tasks=BATTERY, wall=True):
    "One row per task of `battery-<task>-<run>`: each config's test accuracy, the worst seed against the probe, issue 21's bar (and the wall ratio)"
    f = lambda t: f'battery-{t}-{run}'
    return (['task', 'fastai `fine_tune(3)`', 'linear probe', "`recipe='auto'`", 'recipe − probe, worst seed', "issue 21's bar"] + ['wall / `fine_tune(3)`']*wall,
            [[f'{BATTERY[t]} (`{f(t)}`)', acc(f(t), FT), acc(f(t), PROBE), acc(f(t), AUTO), worst_gap(f(t)), bar(f(t))] + [ratio(f(t), AUTO)]*wall for t in tasks])

def shortfalls(run, tasks):
    "The tasks of `battery-<task>-<run>` that miss issue 21's bar, with what they miss"
    return lambda: '; '.join(f'{BATTERY[t]}: {m[len("not met ("):-1]}' for t in tasks if (m := bar(f'battery-{t}-{run}')()) != 'met') or 'none'

def battery_seeds(run, which, tasks=BATTERY):
    "Each config's test accuracy per seed in `battery-<task>-<run>`, `which` naming the seeds"
    return (['task', 'config', f'test accuracy, {which}'],
            [[BATTERY[t] if i == 0 else '', c, seeds(f'battery-{t}-{run}', c)] for t in tasks for i, c in enumerate((AUTO, PROBE, FT))])

KINDS = [('multi-label, hymenoptera (accuracy_multi)', 'kinds-hymenoptera-multilabel', False),
         ('regression, digit/9 (rmse, lower is better)', 'kinds-digits-regression', True),
         ('segmentation, textures (pixel accuracy)', 'kinds-textures-segmentation', False)]
KINDS_NOW = {'kinds-hymenoptera-multilabel': 'kinds-hymenoptera-multilabel-headvalid', 'kinds-digits-regression': 'kinds-digits-regression-headvalid',
             'kinds-textures-segmentation': 'kinds-textures-segmentation-probehead'}   # the recipe alone, re-run on the same seeds and splits

TABLES = {
    'battery-runs': (['results', 'seeds', 'code', 'what changed before it', 'tasks', "issue 21's bar not met"],
        [[f'`-{r.name}`', r.seeds, r.code, r.change, str(len(r.tasks)), shortfalls(r.name, r.tasks)] for r in OTHER_RUNS]),
    'battery-baseline': (['task', 'fastai `fine_tune(3)`', 'linear probe', "`recipe='auto'` at 44c72bb", 'recipe − probe, worst seed', "issue 21's bar"],
        [[f'{BATTERY[t]} (`battery-{t}-baseline`)', acc(f'battery-{t}-baseline', FT), acc(f'battery-{t}-baseline', PROBE), acc(f'battery-{t}-baseline', AUTO),
          worst_gap(f'battery-{t}-baseline'), bar(f'battery-{t}-baseline')] for t in BATTERY if t != 'hymenoptera']),
    'kinds': (['learner kind, data (test score)', 'fastai `fine_tune(3)`', 'head-only floor', "`recipe='auto'` at 4ee0ef7", 'wall / `fine_tune(3)`', "`recipe='auto'` re-run (e93770b; segmentation 3a5c663)"],
        [[f'{label} (`{f}`)', score(f, FT, lower), score(f, 'head-only floor', lower), score(f, AUTO, lower), ratio(f, AUTO), score(KINDS_NOW[f], AUTO, lower)] for label, f, lower in KINDS]),
    'headline': (['task', 'fastai `fine_tune(3)`', 'linear probe on the frozen body', "`recipe='auto'`"],
        [[label, acc(HEADLINE(t), FT), acc(HEADLINE(t), PROBE), acc(HEADLINE(t), AUTO)] for t, label in BATTERY.items()]),
    'recipe': (['', 'fastai `fine_tune(3)`', 'linear probe', "`recipe='auto'`", 'without label smoothing', 'results'], [
        ['hymenoptera, Lite0, 128 px, 5 seeds', acc(R128, FT), acc(R128, PROBE), acc(R128, AUTO), acc(R128, NO_LS), f'`{R128}`'],
        ['hymenoptera, Lite0, 160 px, 5 seeds', acc(O160, FT), acc(O160, PROBE), acc(R160, AUTO), acc(O160, AUTO), f'`{R160}`; the rest `{O160}`'],
        ['hymenoptera, Lite2, 224 px, 3 seeds', acc(OL2, FT), acc(OL2, PROBE), acc(RL2, AUTO), acc(OL2, AUTO), f'`{RL2}`; the rest `{OL2}`'],
        ['hymenoptera, Lite2, 224 px, held-out seeds 300-302 (a7baf67)', acc(RL2H, FT), acc(RL2H, PROBE), acc(RL2H, AUTO), '-', f'`{RL2H}`'],
        ['hymenoptera, Lite2, 224 px, held-out seeds 700-702 (3790bc7)', acc(L2B, FT), acc(L2B, PROBE), acc(L2B, AUTO), '-', f'`{L2B}`'],
        ['hymenoptera, Lite2, 224 px, held-out seeds 1100-1102 (69b29fb)', acc(L2C, FT), acc(L2C, PROBE), acc(L2C, AUTO), '-', f'`{L2C}`'],
        ['hymenoptera, Lite2, 224 px, held-out seeds 1200-1202 (the same recipe, 0121e38)', acc(L2D, FT), acc(L2D, PROBE), acc(L2D, AUTO), '-', f'`{L2D}`'],
        [DIGITS, acc(OD, FT), acc(OD, PROBE), acc(LS3, DEMO_LS), acc(OD, DEMO), f'`{LS3}`; the rest `{OD}`']]),
    'recipe-seeds': (['', "`recipe='auto'`", 'without label smoothing', 'linear probe', 'fastai `fine_tune(3)`'], [
        ['Lite0, 128 px', seeds(R128, AUTO), seeds(R128, NO_LS), seeds(R128, PROBE), seeds(R128, FT)],
        ['Lite0, 160 px', seeds(R160, AUTO), seeds(O160, AUTO), seeds(O160, PROBE), seeds(O160, FT)],
        ['Lite2, 224 px', seeds(RL2, AUTO), seeds(OL2, AUTO), seeds(OL2, PROBE), seeds(OL2, FT)],
        ['Lite2, 224 px, seeds 300-302', seeds(RL2H, AUTO), '-', seeds(RL2H, PROBE), seeds(RL2H, FT)],
        ['Lite2, 224 px, seeds 700-702', seeds(L2B, AUTO), '-', seeds(L2B, PROBE), seeds(L2B, FT)],
        ['Lite2, 224 px, seeds 1100-1102', seeds(L2C, AUTO), '-', seeds(L2C, PROBE), seeds(L2C, FT)],
        ['Lite2, 224 px, seeds 1200-1202', seeds(L2D, AUTO), '-', seeds(L2D, PROBE), seeds(L2D, FT)],
        ['digits', seeds(LS3, DEMO_LS), seeds(OD, DEMO), seeds(OD, PROBE), seeds(OD, FT)]]),
    'recipe-time': (['results', 'config timed', '`fine_tune(3)` wall (median)', 'wall / `fine_tune(3)`', "time to `fine_tune(3)`'s final accuracy / its wall"], [
        ['`recipe-lite0-128px-confirm1100` (69b29fb, the code of the headline; alone, 2 threads)', "`recipe='auto'`", wall('recipe-lite0-128px-confirm1100', FT), ratio('recipe-lite0-128px-confirm1100', AUTO), reach('recipe-lite0-128px-confirm1100', AUTO)],
        ['`recipe-lite0-128px-cscale` (c87515d, the probe head in scikit-learn\'s C; alone, 2 threads)', "`recipe='auto'`", wall('recipe-lite0-128px-cscale', FT), ratio('recipe-lite0-128px-cscale', AUTO), reach('recipe-lite0-128px-cscale', AUTO)],
        ['`recipe-lite0-128px-augprobe` (b3c7268, the probe on every cached pass; alone, 2 threads)', "`recipe='auto'`", wall('recipe-lite0-128px-augprobe', FT), ratio('recipe-lite0-128px-augprobe', AUTO), reach('recipe-lite0-128px-augprobe', AUTO)],
        [f'`{RHV}` (heads validated on cached features; alone, 2 threads)', "`recipe='auto'`", wall(RHV, FT), ratio(RHV, AUTO), reach(RHV, AUTO)],
        ['`recipe-lite0-128px-probehead` (3a5c663, the probe head; alone, 2 threads)', "`recipe='auto'`", wall('recipe-lite0-128px-probehead', FT), ratio('recipe-lite0-128px-probehead', AUTO), reach('recipe-lite0-128px-probehead', AUTO)],
        ['`recipe-lite0-128px` (98e66bb, alone, 2 threads)', "`recipe='auto'`", wall('recipe-lite0-128px', FT), ratio('recipe-lite0-128px', AUTO), reach('recipe-lite0-128px', AUTO)],
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
    'speed': (['', 'measured', 'results file'], [
        ["fastai_ft's callbacks in a run with the defaults (= `fine_tune`), synthetic learner", SHARE('{:.2%} of its time'), '`profile_overhead`'],
        ["frozen epochs after the first, `bn='freeze'`", speedup('overhead', OVERHEAD[2], note=" faster than `fine_tune`'s"), '`overhead`'],
        ['frozen epochs after the first, feature cache', speedup('overhead', OVERHEAD[3], note=" faster than `fine_tune`'s"), '`overhead`'],
        ['a training step, channels-last weights (Lite0 48 px, 128 px; Lite2 224 px)',
         lambda: ', '.join(CL_RATIO(i, 'train_step')() for i in range(3)) + ' faster', '`channels-last`']]),
}

def _region(run): return 'battery' if run.name == 'final' else f'battery-{run.name}'
TABLES.update({_region(r): battery_table(r.name, r.tasks, wall=r.tasks == tuple(BATTERY)) for r in RUNS if r.name != 'baseline'})
TABLES.update({f'{_region(r)}-seeds': battery_seeds(r.name, r.per_seed, r.tasks) for r in RUNS if r.per_seed})

def render(name):
    "TABLES[name] as markdown"
    header, rows = TABLES[name]
    cell = lambda c: c() if callable(c) else str(c)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return '\n'.join(lines + ['| ' + ' | '.join(cell(c) for c in r) + ' |' for r in (rows() if callable(rows) else rows)]) + '\n'

_region = re.compile(r'(<!-- table:([\w-]+) -->\n)(.*?)(<!-- /table:\2 -->)', re.S)
def fill(text, where, stale):
    "`text` with every region filled in; the names of regions that changed go to `stale`"
    def sub(m):
        if m[2] not in TABLES: sys.exit(f"{where}: no table named {m[2]!r} in benchmarks/tables.py (known: {', '.join(TABLES)})")
        try: new = render(m[2])
        except (OSError, LookupError, ValueError) as e: sys.exit(f"{where}: table {m[2]!r}: {e}")
        if new != m[3]: stale.append(f'{where}: table {m[2]}')
        return m[1] + new + m[4]
    return _region.sub(sub, text)

def main(check=False):
    stale, nb_path = [], ROOT/'nbs'/'index.ipynb'
    mds = {f: fill(f.read_text(), f'benchmarks/{f.name}', stale) for f in MARKDOWN}
    nb = json.loads(nb_path.read_text())
    for c in nb['cells']:
        if c['cell_type'] == 'markdown' and '<!-- table:' in (src := ''.join(c['source'])):
            c['source'] = fill(src, f"nbs/index.ipynb (cell {c['id']})", stale).splitlines(keepends=True)
    if check:
        if stale: sys.exit('Tables out of date with benchmarks/results/ (run `python benchmarks/tables.py`):\n  ' + '\n  '.join(stale))
        return
    if stale:
        for f, md in mds.items(): f.write_text(md)
        nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')   # as nbdev-clean writes it
        subprocess.run([sys.executable, str(ROOT/'.ci'/'readme.py')], check=True)
    print('\n'.join(stale) or 'every table is up to date')

if __name__ == '__main__': main('--check' in sys.argv[1:])
