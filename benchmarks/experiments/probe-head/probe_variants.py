"""Linear probe variants on the frozen Lite0 body (development seeds): the average-pooled or the concatenated [max, avg] features,
unscaled, centred and scaled by one number, or standardised per feature; C chosen on validation by fastai_ft.recipe.fit_probe.
    python benchmarks/experiments/probe-head/probe_variants.py hymenoptera-8shot 0 1 2 3 4"""
import sys; sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
import torch, numpy as np
torch.set_num_threads(1)
from battery import TASKS
from recipe import fresh_learner
from fastai_ft.recipe import fit_probe
from fastai.vision.all import *
from sklearn.linear_model import LogisticRegression
def feats(body, dl):
    with torch.no_grad():
        fs=[(body(x), y) for x,y in dl]
    f=torch.cat([a for a,_ in fs]); y=torch.cat([b for _,b in fs])
    return f.amax((2,3)), f.mean((2,3)), y
task=sys.argv[1]; seeds=[int(s) for s in sys.argv[2:]]
res={}
for seed in seeds:
    dls,tdl=TASKS[task](seed)
    learn=fresh_learner(dls,'lite0',seed)
    body=learn.model[0].eval()
    (mt,at,yt),(mv,av,yv),(ms,as_,ys)=[feats(body,dl) for dl in (dls.test_dl(dls.train_ds.items, with_labels=True), dls.valid, tdl)]
    c=dls.c
    out={}
    def tfit(name, Xt, Xv, Xs, norm):
        mean=Xt.mean(0); 
        if norm=='feat': sc=Xt.std(0,unbiased=False)+1e-3
        elif norm=='global': sc=(Xt-mean).pow(2).mean().sqrt()
        else: sc=torch.tensor(1.); mean=torch.zeros_like(mean)
        z=lambda o:(o-mean)/sc
        W,b,C,rows=fit_probe(z(Xt),yt,z(Xv),yv,c)
        out[name]=(float(((z(Xs)@W.T+b).argmax(1)==ys).float().mean()),C)
    cat=lambda a,b: torch.cat([a,b],1)
    tfit('avg raw',at,av,as_,'none')
    tfit('avg global',at,av,as_,'global')
    tfit('avg feat',at,av,as_,'feat')
    tfit('cat raw',cat(mt,at),cat(mv,av),cat(ms,as_),'none')
    tfit('cat global',cat(mt,at),cat(mv,av),cat(ms,as_),'global')
    tfit('cat feat',cat(mt,at),cat(mv,av),cat(ms,as_),'feat')
    print(task, seed, {k:(round(v[0],3),v[1]) for k,v in out.items()}, flush=True)
    for k,v in out.items(): res.setdefault(k,[]).append(v[0])
print(task, 'MEAN', {k:round(float(np.mean(v)),4) for k,v in res.items()})
