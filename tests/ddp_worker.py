"""One process of the two-process test in tests/test_distributed.py. Launched the way the docs tell users to:
    torchrun --nproc_per_node 2 tests/ddp_worker.py OUT_DIR [staged|recipe]"""
import faulthandler, json, sys
from datetime import timedelta
from pathlib import Path
import torch
from accelerate.utils import InitProcessGroupKwargs
from fastai.basics import *
from fastai.distributed import *
from fastai_ft.all import *
from fastai.vision.learner import create_head

# fastai's DistributedDL._broadcast moves its index tensor to CUDA (nccl needs that); gloo on CPU needs it on the CPU.
# This replaces that one method with a device-agnostic broadcast so fastai's distributed training runs on CPU.
def _broadcast(self, t, rank):
    t = LongTensor(t)
    torch.distributed.broadcast(t, rank)
    return t.tolist()
DistributedDL._broadcast = _broadcast

out,mode = Path(sys.argv[1]),(sys.argv[2] if len(sys.argv) > 2 else 'staged')
# A hang must fail fast and say where: a collective that waits 90 s raises (gloo's timeout), anything else stuck
# (start-up, exit) dumps every thread's stack after 240 s and exits.
faulthandler.dump_traceback_later(240, exit=True)
pg = InitProcessGroupKwargs(timeout=timedelta(seconds=90))
torch.set_num_threads(1)
set_seed(0)
learn = synth_staged_learner(3, n=512, bs=32)
if mode == 'recipe': learn.model[1] = create_head(16, 2, pool=False)   # fastai's head, so the linear probe head is fitted (per process, then the main's)
set_seed(1 + int(os.environ.get('RANK', 0)))   # different random states per process: decisions must still agree
class HeadValidations(Callback):
    "Count the validations of head-only fits by what they ran on: cached features (`_FeatureDL`) or the images through the body"
    order = 99   # after fastai's DistributedTrainer wrapped the loader
    def __init__(self): self.seen,self.head_only = {},False
    def before_fit(self): self.head_only = self.opt.frozen_idx == len(self.opt.param_lists) - 1
    def after_fit(self): self.head_only = False
    def before_validate(self):
        if self.head_only:
            k = type(getattr(self.dl, 'dl', self.dl)).__name__
            self.seen[k] = self.seen.get(k, 0) + 1
hv = HeadValidations()
learn.add_cb(hv)
from fastai_ft.cache import FeatureCacheCallback
builds, _build = [], FeatureCacheCallback._build
def _counted(self): builds.append(1); return _build(self)
FeatureCacheCallback._build = _counted   # how many times the body's outputs are computed for the cache
with learn.distrib_ctx(sync_bn=False, cpu=True, kwargs_handlers=[pg]):   # SyncBatchNorm needs CUDA; cpu=True makes Accelerate use gloo
    if mode == 'recipe':   # the feature cache per process, the weight-decay sweep, the drift, the final choice on gathered items
        r = learn.staged_fine_tune(recipe='auto', epochs=2, freeze_epochs=5, tracker=RunTracker(ckpt_dir=out/'ckpt', rollback=None))
    else:
        r = learn.staged_fine_tune('auto', freeze_epochs='auto', base_lr=1e-2, total_epochs=6,
                                   plateau=Plateau(min_delta=0.03, max_epochs=4),
                                   tracker=RunTracker(ckpt_dir=out/'ckpt', rollback='restore'))
rank = rank_distrib()
json.dump(dict(stages=[[s.name, s.epochs_run, s.reason, s.rollback] for s in r], best=r.best_at, decisions=r.decisions,
               valid_loss=learn.stage_history.valid_loss.tolist(), head_validations=hv.seen, cache_builds=len(builds)), open(out/f'rank{rank}.json', 'w'))
torch.save(learn.model.state_dict(), out/f'rank{rank}.pth')
torch.distributed.barrier()                   # both have written their results
torch.distributed.destroy_process_group()     # a clean exit, without leaving gloo's teardown to interpreter shutdown
faulthandler.cancel_dump_traceback_later()
