"""Development run: is one epoch of fine-tuning, or a soup (the weight average) of three one-epoch fine-tunings from the
same head with different shuffles, a better partner for the head than the recipe's three epochs? Per seed, under
`recipe.py`'s held-out protocol: `recipe='auto'` with `epochs=1, alphas=(1,)` (its head and first ingredient), two more
ingredients from that head, then validation and test accuracy of the head, each ingredient, the soup and their even
mixes with the head. Reads the test split, so development only.

    python benchmarks/experiments/soup/recipe_soup.py 128 0,1,2 1 >> benchmarks/experiments/soup/recipe-soup.jsonl   # size, seeds, epochs"""
import sys, json, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # benchmarks/, for recipe.py
from recipe import *
from fastai_ft.recipe import EndsCallback, mix_state, load_state, valid_scores, state_of
K = 3   # ingredients of the soup
LRS = slice(1e-4, 1e-3)   # the recipe's fine-tuning LRs (lr=1e-3, lr_mult=10)

def run(size, seed, E):
    dls, tdl = protocol_dls(DATA, size, seed)
    learn = fresh_learner(dls, 'lite0', seed)
    ends = EndsCallback(); t = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.staged_fine_tune(recipe='auto', epochs=E, alphas=(1,), cbs=ends)
    head, ings = ends.ends['head'][2], [ends.ends['tuned'][2]]
    for k in range(1, K):   # more ingredients from the same head, other shuffles
        load_state(learn, head); learn.unfreeze(); learn.opt.clear_state()
        seed_run(dls, 1000*seed+k)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(E, LRS, pct_start=0.3, div=5.)
        ings.append(state_of(learn))
    wall, soup = time.perf_counter()-t, average(ings)
    cands = [('head', head), ('ft1', ings[0]), ('mix_ft1', mix_state(head, ings[0], .5)), ('soup', soup),
             ('mix_soup', mix_state(head, soup, .5))] + [(f'ft{i+1}', ings[i]) for i in range(1, K)]
    res = {}
    for name, sd in cands:
        load_state(learn, sd); v = valid_scores(learn)
        res[name] = dict(valid=round(v['accuracy'], 4), vloss=round(v['valid_loss'], 3), test=round(test_accuracy(learn, tdl), 4))
    return dict(seed=seed, E=E, wall=round(wall, 1), res=res)

if __name__ == '__main__':
    torch.set_num_threads(1)
    size, seeds, E = int(sys.argv[1]), [int(s) for s in sys.argv[2].split(',')], int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for seed in seeds: print(json.dumps(run(size, seed, E)), flush=True)
