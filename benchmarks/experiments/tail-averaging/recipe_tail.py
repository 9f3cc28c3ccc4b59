"""Development run: would the average of the weights at the ends of the last k fine-tuning epochs (tail averaging, as in
SWA) be steadier than the last epoch's? Per seed, under `recipe.py`'s held-out protocol, one `recipe='auto'` run with
`alphas=(1,)` and the given arguments; the weights at the end of every fine-tuning epoch are kept, and the last epoch
and the averages of the last 2, 3 and 4 are scored on validation and test. Reads the test split: development only.

    python benchmarks/experiments/tail-averaging/recipe_tail.py digits 0,1,2 >> benchmarks/experiments/tail-averaging/recipe-tail.jsonl    # the demo's settings
    python benchmarks/experiments/tail-averaging/recipe_tail.py 128 0,1,2 >> benchmarks/experiments/tail-averaging/recipe-tail.jsonl       # hymenoptera, the defaults"""
import sys, json
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # benchmarks/, for recipe.py
from recipe import *
from fastai_ft.recipe import load_state, valid_scores, state_of

class EpochEnds(Callback):
    "The weights at the end of every epoch in which the whole model trains"
    order = 200
    def __init__(self): self.states = []
    def after_epoch(self):
        if self.opt.frozen_idx == 0: self.states.append(state_of(self.learn))

if __name__ == '__main__':
    torch.set_num_threads(1)
    what, seeds = sys.argv[1], [int(s) for s in sys.argv[2].split(',')]
    kw = dict(epochs=12, lr_mult=30) if what == 'digits' else {}
    for seed in seeds:
        dls, tdl = digits_dls(48, seed) if what == 'digits' else protocol_dls(DATA, int(what), seed)
        learn = fresh_learner(dls, 'lite0', seed)
        ends = EpochEnds()
        with learn.no_bar(), learn.no_logging(): learn.staged_fine_tune(recipe='auto', alphas=(1,), cbs=ends, **kw)
        res = {}
        for k in (1, 2, 3, 4):
            if k > len(ends.states): continue
            load_state(learn, average(ends.states[-k:])); v = valid_scores(learn)
            res[k] = dict(valid=round(v['accuracy'], 4), vloss=round(v['valid_loss'], 4), test=round(test_accuracy(learn, tdl), 4))
        print(json.dumps(dict(data=what, seed=seed, res=res)), flush=True)
