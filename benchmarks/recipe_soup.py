"""Development run: is one epoch of fine-tuning, or a soup (the weight average) of three one-epoch fine-tunings from the
same head with different shuffles, a better partner for the head than the recipe's three epochs? Per seed, under
`recipe.py`'s held-out protocol: `recipe='auto'` with `epochs=1, alphas=(1,)` (its head and first ingredient), two more
ingredients from that head, then validation and test accuracy of the head, each ingredient, the soup and their even
mixes with the head. Reads the test split, so development only.

    python benchmarks/recipe_soup.py 128 0,1,2 1 >> benchmarks/results/recipe-soup.jsonl   # size, seeds, epochs"""
import sys, json, random, time
sys.path.insert(0, str(__import__('pathlib').Path(__file__).parent))
from recipe import *
from fastai_ft.recipe import EndsCallback, mix_state, load_state, valid_scores, state_of
torch.set_num_threads(1)
size=int(sys.argv[1]); seeds=[int(s) for s in sys.argv[2].split(',')]; E=int(sys.argv[3]) if len(sys.argv)>3 else 1
K = 3   # ingredients of the soup
for seed in seeds:
    dls, tdl = protocol_dls(DATA, size, seed)
    learn = fresh_learner(dls, 'lite0', seed)
    ends = EndsCallback(); t=time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        r = learn.staged_fine_tune(recipe='auto', epochs=E, alphas=(1,), cbs=ends)
    head, ings = ends.ends['head'][2], [ends.ends['tuned'][2]]
    lrs = slice(1e-4, 1e-3)   # the recipe's fine-tuning LRs (lr=1e-3, lr_mult=10)
    for k in range(1, K):
        load_state(learn, head); learn.unfreeze(); learn.opt.clear_state()
        for dl in dls.loaders: dl.rng = random.Random(1000*seed+k)
        set_seed(1000*seed+k)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(E, lrs, pct_start=0.3, div=5.)
        ings.append(state_of(learn))
    wall=time.perf_counter()-t
    soup = {k: (sum(i[k].float() for i in ings)/K).to(ings[0][k].dtype) if ings[0][k].is_floating_point() else ings[0][k] for k in head}
    res={}
    for name, sd in [('head',head),('ft1',ings[0]),('mix_ft1',mix_state(head,ings[0],.5)),('soup',soup),('mix_soup',mix_state(head,soup,.5))]+[(f'ft{i+1}',ings[i]) for i in range(1,K)]:
        load_state(learn, sd); v=valid_scores(learn)
        res[name]=dict(valid=round(v['accuracy'],4), vloss=round(v['valid_loss'],3), test=round(test_accuracy(learn,tdl),4))
    print(json.dumps(dict(seed=seed, E=E, wall=round(wall,1), res=res)), flush=True)
