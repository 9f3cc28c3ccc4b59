"""Development run behind the recipe's reference mix (`ref`): per seed, `recipe='auto'` variants on the same DataLoaders and seed,
each scored at the mixes alpha = 0, 0.25, 0.5, 0.75, 1 of its head and fine-tuned weights, on validation and on the test split.

    python benchmarks/experiments/reference-mix/recipe_mixes.py 160 0,1,2,3,4 base,wdhi,wdvhi      # size, seeds, variants [arch]
    python benchmarks/experiments/reference-mix/recipe_mixes.py --summary                          # the table of the rows so far

Rows go to recipe-mixes.jsonl beside this script. It reads the test split, so it is for development only: the
held-out figures come from recipe.py."""
import sys, json, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # benchmarks/, for recipe.py
from recipe import *
from fastai_ft.recipe import EndsCallback, mix_state, load_state, valid_scores

ALPHAS = (0, 0.25, 0.5, 0.75, 1)
VARIANTS = {
  'base': {},
  'mult100': dict(lr_mult=100),
  'lr5e-4': dict(lr=5e-4),
  'ep5': dict(epochs=5),
  'lr2e-3': dict(lr=2e-3),
  'mult30': dict(lr_mult=30),
  'bntrain': dict(bn='train'),
  'wdhi': dict(wds=(0.1, 0.3, 1.0)),
  'wdvhi': dict(wds=(0.3, 1.0, 3.0)),
  'head20': dict(freeze_epochs=20),
  'wdall': dict(wds=(1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0)),
}
def main(size, seeds, names, arch='lite0', out=str(Path(__file__).parent/'recipe-mixes.jsonl'), digits=False):
    torch.set_num_threads(1)
    for seed in seeds:
        dls, tdl = digits_dls(size, seed) if digits else protocol_dls(DATA, size, seed)
        for name in names:
            learn = fresh_learner(dls, arch, seed)
            ends = EndsCallback()
            t = time.perf_counter()
            with learn.no_bar(), learn.no_logging():
                r = learn.staged_fine_tune(recipe='auto', alphas=(1,), cbs=ends, **VARIANTS[name])
            wall = time.perf_counter() - t
            head, tuned = ends.ends['head'][2], ends.ends['tuned'][2]
            res = {}
            for a in ALPHAS:
                load_state(learn, mix_state(head, tuned, a))
                v = valid_scores(learn)
                res[a] = dict(valid=v['accuracy'], vloss=v['valid_loss'], test=test_accuracy(learn, tdl))
            row = dict(size=size, arch=arch, seed=seed, name=name, wall=round(wall,1), res=res, digits=digits,
                       wd=[l for l in r.decisions if l.startswith('weight decay')][0][:60], bn=[l for l in r.decisions if 'BatchNorm' in l][0][-12:])
            print(json.dumps(row), flush=True)
            open(out, 'a').write(json.dumps(row) + '\n')

def summary(out=Path(__file__).parent/'recipe-mixes.jsonl'):
    import statistics as st
    rows = {(r['name'], r['seed']): r for r in map(json.loads, open(out))}
    for n in sorted({k[0] for k in rows}):
        rs = [r for (m, _), r in rows.items() if m == n]
        for a in ('0', '0.5', '1'):
            print(f"{n:8} alpha {a:4} runs {len(rs)}  valid acc {st.mean(r['res'][a]['valid'] for r in rs):.4f}  valid loss {st.mean(r['res'][a]['vloss'] for r in rs):.3f}  test acc {st.mean(r['res'][a]['test'] for r in rs):.4f}")

if __name__ == '__main__':
    if sys.argv[1:] == ['--summary']: summary(); sys.exit()
    size = int(sys.argv[1]); seeds = [int(s) for s in sys.argv[2].split(',')]; names = sys.argv[3].split(',')
    arch = sys.argv[4] if len(sys.argv) > 4 else 'lite0'
    main(size, seeds, names, arch, digits=(len(sys.argv) > 5 and sys.argv[5] == 'digits'))
