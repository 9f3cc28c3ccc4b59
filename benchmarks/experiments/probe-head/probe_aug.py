"""Does the linear probe gain from the augmented passes the recipe caches anyway? (development seeds only)
The probe on the head's input ([max, avg] pooled, unscaled, C by fastai_ft.recipe.fit_probe on validation), fitted on the
clean training features alone (the recipe at d1c0feb), or on the clean ones plus k augmented passes of the training items.
    python benchmarks/experiments/probe-head/probe_aug.py hymenoptera-8shot 0 1 2 3 4 5 6 7 8 9"""
import sys, json; sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
import torch, numpy as np
torch.set_num_threads(1)
from battery import TASKS
from recipe import fresh_learner
from fastai_ft.recipe import fit_probe
from fastai.vision.all import *
def feats(body, dl):
    with torch.no_grad(): fs=[(body(x), y) for x,y in dl]
    f=torch.cat([a for a,_ in fs]); y=torch.cat([b for _,b in fs])
    return torch.cat([f.amax((2,3)), f.mean((2,3))], 1).as_subclass(Tensor), y.as_subclass(Tensor).long()
task=sys.argv[1]; seeds=[int(s) for s in sys.argv[2:]]
res={}
for seed in seeds:
    set_seed(seed)
    dls,tdl=TASKS[task](seed)
    learn=fresh_learner(dls,'lite0',seed)
    body=learn.model[0].eval()
    (xt,yt),(xv,yv),(xs,ys)=[feats(body,dl) for dl in (dls.test_dl(dls.train_ds.items, with_labels=True, shuffle=False, drop_last=False), dls.valid, tdl)]
    aug=[feats(body, dls.train.new(shuffle=False, drop_last=False)) for _ in range(8)]
    out={}
    for k in (0,1,2,8):
        X=torch.cat([xt]+[a for a,_ in aug[:k]]); Y=torch.cat([yt]+[b for _,b in aug[:k]])
        W,b,C,rows=fit_probe(X,Y,xv,yv,dls.c)
        out[f'clean+{k}aug']=(float(((xs@W.T+b).argmax(1)==ys).float().mean()),C)
    print(json.dumps(dict(task=task, seed=seed, **{k:v for k,v in out.items()})), flush=True)
    for k,v in out.items(): res.setdefault(k,[]).append(v[0])
print(task, 'MEAN', {k:round(float(np.mean(v)),4) for k,v in res.items()})
