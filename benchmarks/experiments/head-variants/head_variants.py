"""Variants of the recipe's head-only stage on hymenoptera, under `recipe.py`'s held-out protocol: does another way of
training the head (or a linear head) reach the linear probe's test accuracy, which the recipe's head falls short of?

    python benchmarks/experiments/head-variants/head_variants.py SIZE SEEDS [THREADS] [ARCH] [VARIANTS] [HEAD]   # e.g. 128 0,1,2,3,4 1 lite0 cur,lr3 mlp
    python benchmarks/experiments/head-variants/head_variants.py --summary                                     # the table of the rows so far

HEAD: 'mlp' (fastai's `create_head`, what `lite_learner` builds) or 'lin' (average pool, BatchNorm, dropout, one
linear layer: LP-FT's linear head). Each variant: the weight-decay grid as the
recipe runs it (10 cached epochs per value, the lowest validation loss wins), then the head's epochs from that head's
start. Rows go to head-variants.jsonl beside this script; validation decides, the test column is for reporting."""
import json, statistics as st, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # benchmarks/, for recipe.py
from recipe import *
from fastai.vision.learner import create_head
from fastai_ft.recipe import sweep_wd, state_of, load_state, valid_scores
from fastai_ft.callback.bn import BNPolicyCallback

OUT = Path(__file__).parent/'head-variants.jsonl'
VARIANTS = {   # name: peak LR, epochs, weight decays tried, cached augmented passes
    'cur':    dict(lr=1e-2, ep=40, wds=(1e-3, 1e-2, 1e-1), aug=2),   # the recipe's head
    'lr3':    dict(lr=1e-3, ep=40, wds=(1e-3, 1e-2, 1e-1), aug=2),
    'wdhi':   dict(lr=1e-2, ep=40, wds=(1e-1, 1., 3.), aug=2),
    'ep10':   dict(lr=1e-2, ep=10, wds=(1e-3, 1e-2, 1e-1), aug=2),
    'aug8':   dict(lr=1e-2, ep=40, wds=(1e-3, 1e-2, 1e-1), aug=8),
    'augoff': dict(lr=1e-2, ep=40, wds=(1e-3, 1e-2, 1e-1), aug='off'),
}

def with_head(learn, kind):
    "`learn` with the head `kind` in place of `lite_learner`'s"
    if kind == 'mlp': return learn
    h = create_head(1280, learn.dls.c, lin_ftrs=[], concat_pool=False)
    apply_init(h, nn.init.kaiming_normal_)
    learn.model[1] = h; learn.create_opt(); learn.freeze()
    return learn

def main(size, seeds, threads=1, arch='lite0', names=tuple(VARIANTS), kind='mlp'):
    torch.set_num_threads(threads)
    for seed in seeds:
        dls, tdl = protocol_dls(DATA, size, seed)
        learn = with_head(fresh_learner(dls, arch, seed), kind)
        rows = [dict(variant='probe', test=(pr := linear_probe(learn, dls, tdl))['test'], valid=pr['valid'])]
        start, caches = state_of(learn), {}
        for name in names:
            v = VARIANTS[name]
            seed_run(dls, seed)
            load_state(learn, start); learn.opt.clear_state()
            cbs = [BNPolicyCallback('freeze'), caches.setdefault(v['aug'], FeatureCacheCallback(aug=v['aug'], verbose=False))]
            t = time.perf_counter()
            with learn.no_bar(), learn.no_logging():
                wd, _, _ = sweep_wd(learn, list(v['wds']), 10, v['lr'], cbs)
                learn.fit_one_cycle(v['ep'], v['lr'], wd=wd, cbs=cbs)
            s = valid_scores(learn)
            rows.append(dict(variant=f'{name}-{kind}', wd=wd, test=test_accuracy(learn, tdl), valid=s['accuracy'],
                             valid_loss=s['valid_loss'], wall=round(time.perf_counter()-t, 1)))
        with OUT.open('a') as f:
            for r in rows: f.write(json.dumps(dict(size=size, arch=arch, seed=seed, **r)) + '\n')

def summary():
    rows = {}
    for l in OUT.read_text().splitlines(): r = json.loads(l); rows[(r['size'], r['arch'], r['variant'], r['seed'])] = r
    print('| size | arch | head variant | seeds | valid acc mean | valid loss mean | test acc mean | test sd |\n|---|---|---|---|---|---|---|---|')
    for k in dict.fromkeys(k[:3] for k in rows):
        rs = [r for kk,r in rows.items() if kk[:3] == k]
        vl = [r['valid_loss'] for r in rs if 'valid_loss' in r]   # the probe has none
        sd = st.stdev([r['test'] for r in rs]) if len(rs) > 1 else 0
        print(f"| {k[0]} | {k[1]} | {k[2]} | {len(rs)} | {st.mean(r['valid'] for r in rs):.4f} | {f'{st.mean(vl):.3f}' if vl else '-'} | "
              f"{st.mean(r['test'] for r in rs):.4f} | {sd:.4f} |")

if __name__ == '__main__':
    a = sys.argv[1:]
    if a == ['--summary']: summary(); sys.exit()
    main(int(a[0]), [int(s) for s in a[1].split(',')], int(a[2]) if len(a) > 2 else 1, a[3] if len(a) > 3 else 'lite0',
         a[4].split(',') if len(a) > 4 else tuple(VARIANTS), a[5] if len(a) > 5 else 'mlp')
