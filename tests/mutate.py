"""Break each feature on purpose and watch its tests fail: the check behind the feature table in tests/README.md.

Each mutant below is a realistic one-line bug in a feature the README or the notebooks promise. The script applies it to
the notebook that is the source of that line (the exported `fastai_ft/*.py` follows by `nbdev-export`, as a real change
would), in a copy of the checkout, runs the tests the table names for that feature, and records whether they failed
(the mutant is *killed*) or passed (it *survived*: the feature is not guarded). Nothing in the checkout changes.

    python tests/mutate.py                  # every mutant; the results go to tests/README.md's table
    python tests/mutate.py --only rollback  # the mutants whose name contains 'rollback'
    python tests/mutate.py --list           # the mutants, without running anything
    python tests/mutate.py --control        # the named tests without any bug: they must all pass, else a kill means nothing

It takes a while (each mutant runs its tests alone, 20 s to 3 min): it is a maintainer's tool, run before a refactor
and when a feature's test changes, not part of CI. Real-data tests read the photos from `FASTAI_FT_HYMENOPTERA`
(default `../shared/data/hymenoptera` beside the checkout), as the tests themselves do."""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT/'tests'/'README.md'

@dataclass
class Mutant:
    name: str      # short unique name
    feature: str   # the feature it breaks, as the table names it
    old: str       # a line (or part of one) of an exported notebook cell, found exactly once in nbs/
    new: str       # what it becomes: the bug
    tests: tuple   # pytest node ids (paths relative to the checkout) that must fail

def nb(name): return f'tests/test_notebooks.py::test_notebook[{name}]'

RR = 'tests/test_recipe_rules.py'
MUTANTS = [
    # --- the stage engine: exactly fine_tune by default
    Mutant('ft-frozen-pct', "staged_fine_tune() is fastai's fine_tune", "pct_start=0.25 if auto else 0.99", "pct_start=0.25 if auto else 0.3",
           ('tests/test_kinds.py::test_staged_equals_fine_tune[single_label]',)),
    Mutant('ft-freeze-epochs', 'freeze_epochs', "stages.append(Stage('frozen', 1, freeze_epochs, slice(base_lr)", "stages.append(Stage('frozen', 1, 1, slice(base_lr)",
           ('tests/test_kinds.py::test_staged_equals_fine_tune_freeze_epochs[3]',)),
    Mutant('ft-realdata', "staged_fine_tune() is fine_tune on real photos", "hi = _check_lr(base_lr, 'base_lr')/2", "hi = _check_lr(base_lr, 'base_lr')",
           ('tests/test_realdata.py::test_hymenoptera_staged_fine_tune_is_fine_tune',)),
    Mutant('gradual-epochs', 'epochs of the stages between frozen and unfrozen', "epochs if last else freeze_epochs, lrs", "epochs if last else 1, lrs",
           (nb('00_core'),)),
    Mutant('drop-grads', 'a stage moves only the groups it trains', "    _drop_frozen_grads(self)\n", "\n", (nb('03_learner'),)),
    Mutant('lr-slice-default', 'slice(hi) LRs per group', "if not lr.start: return np.array([hi/10]*(n_groups-1) + [hi])",
           "if not lr.start: return np.array([hi]*n_groups)", (nb('00_core'),)),
    Mutant('lr-slice-spread', 'slice(lo, hi) LRs per group', "top = L(even_mults(lo, hi, n_train)) if n_train > 1 else L(hi)",
           "top = L(even_mults(lo, hi, n_groups))[-n_train:] if n_train > 1 else L(hi)", (nb('00_core'),)),
    Mutant('lr-decay', 'lr_decay (ULMFiT) LRs', "return np.array([hi/lr_decay**(n_groups-1-i) for i in range(n_groups)])",
           "return np.array([hi/lr_decay**i for i in range(n_groups)])", ('tests/test_learners.py::test_ulmfit_gradual_unfreezing',)),
    Mutant('gradual', "unfreeze='gradual'", "if unfreeze == 'gradual': return list(range(1, n_groups+1))",
           "if unfreeze == 'gradual': return list(range(1, n_groups+1, 2))", ('tests/test_learners.py::test_ulmfit_gradual_unfreezing',)),
    Mutant('budget', 'total_epochs budget', "return max(left, 1) if i == len(plan)-1 else max(min(own, left), 1)",
           "return max(left, 1) if i == len(plan)-1 else max(own, 1)", (nb('00_core'),)),
    # --- adaptive stages
    Mutant('plateau-patience', 'Plateau patience', "return self.wait >= self.patience", "return self.wait > self.patience", (nb('02_callback.adaptive'),)),
    Mutant('plateau-window', 'Plateau window', "s = float(np.mean(self.values[-self.window:]))", "s = float(self.values[-1])", (nb('02_callback.adaptive'),)),
    Mutant('plateau-rel', 'Plateau relative min_delta', "d = self.min_delta*abs(self.best) if self.rel else self.min_delta",
           "d = self.min_delta", (nb('02_callback.adaptive'),)),
    Mutant('plateau-warmup', 'no judgement during warm-up', "warm = (e+1)/st.epochs <= st.plan.pct_start", "warm = False", (nb('03_learner'),)),
    Mutant('plateau-cooldown', 'the one-cycle anneals over the cooldown after a plateau', "st.warp,self.end_at = (p0, p0+cd/st.epochs),e+1+cd",
           "st.warp,self.end_at = (p0, p0+cd/st.epochs),e+1", (nb('03_learner'),)),
    # --- the run's tracker
    Mutant('best-loaded', 'the run-wide best weights loaded back', "        if self.load_best: self.load()\n", "\n",
           (nb('02_callback.tracker'), 'tests/test_adaptive_realdata.py::test_adaptive_with_budget_and_tracker')),
    Mutant('best-on-disk', 'best weights on disk', "f = self.ckpt_dir/f\"ft-{self.run_id}-epoch{self.best_at['epoch']}-stage{st.index}.pth\"",
           "f = self.ckpt_dir/f\"ft-{self.run_id}-stage{st.index}.pth\"", (nb('02_callback.tracker'), 'tests/test_interplay.py::test_keyboard_interrupt_keeps_best')),
    Mutant('rollback', 'roll-back of a stage that ends worse', "if improved or mode == 'restore': return 'restore'",
           "if improved and mode == 'restore': return 'restore'", (nb('02_callback.tracker'),)),
    Mutant('retry-once', 'a diverged stage is retried once', "if mode == 'retry' and not retried: return 'retry'", "if mode == 'retry': return 'retry'",
           (nb('02_callback.tracker'),)),
    Mutant('diverge', 'divergence guard (a finite loss that explodes)', "if self.low is not None and smooth > self.diverge*self.low:",
           "if self.low is not None and smooth > 10*self.diverge*self.low:", (nb('02_callback.tracker'),)),
    Mutant('nonfinite-any-rank', 'a NaN batch on one process stops every process', "k = int(min_values([len(nonfinite_causes) if cause is None else cause])[0])",
           "k = int(main_values([len(nonfinite_causes) if cause is None else cause])[0])", ('tests/test_distributed.py::test_two_processes_agree[nonfinite]',)),
    Mutant('early-stop', 'RunTracker patience (early stop)', "if self.patience and self.wait >= self.patience:",
           "if self.patience and self.wait > self.patience:", (nb('02_callback.tracker'),)),
    Mutant('safe-ckpt', 'checkpoints load without running code', "try: return torch.load(f, map_location='cpu', weights_only=True)['model']",
           "try: return torch.load(f, map_location='cpu', weights_only=False)['model']", (nb('02_callback.tracker'),)),
    Mutant('safe-state', 'resume files load without running code', "try: st = torch.load(path, map_location='cpu', weights_only=True)",
           "try: st = torch.load(path, map_location='cpu', weights_only=False)", ('tests/test_errors.py::test_bad_resume_file[hostile zip]',)),
    # --- BatchNorm
    Mutant('bn-freeze-stats', "bn='freeze_stats'", "self.bns = bn_modules(self.learn, self.policy!='eval')",
           "self.bns = bn_modules(self.learn, True)", (nb('02_callback.bn'),)),
    Mutant('bn-freeze', "bn='freeze'", "if self.policy=='freeze': self._fix_frozen_params()", "pass", (nb('02_callback.bn'),)),
    Mutant('bn-recalibrate', "bn='recalibrate'", "for m in bns: m.reset_running_stats(); m.momentum = None",
           "for m in bns: m.reset_running_stats()", (nb('02_callback.bn'),)),
    Mutant('bn-eval-every-batch', "a BatchNorm policy puts back eval mode at every batch", "            if m.training: m.eval()   #",
           "            if not m.training: m.eval()   #", (nb('02_callback.bn'),)),
    Mutant('check-bn', 'check_bn: the BatchNorm warning in the report', "if check_bn: self.stage.bn_warning = bn_advice(bn_gap(self))",
           "if check_bn: self.stage.bn_gap = bn_gap(self)", (nb('03_learner'),)),
    Mutant('bnfreeze', "fastai's BnFreeze honoured", "if on and s.bn == 'train': s = copy(s); s.bn = 'freeze_stats'", "pass",
           ('tests/test_fastai_callbacks.py::test_bn_freeze_is_honoured',)),
    # --- fastai's callbacks run-wide
    Mutant('csv-run-wide', 'CSVLogger run-wide', "self.file = f.open('a' if self.append or self.started else 'w', newline='')",
           "self.file = f.open('a' if self.append else 'w', newline='')", ('tests/test_fastai_callbacks.py::test_resume_keeps_one_csv_and_the_best',)),
    Mutant('es-run-wide', 'EarlyStoppingCallback run-wide', "w = self.wait; super().before_fit(); self.wait = w", "super().before_fit()",
           ('tests/test_fastai_callbacks.py::test_early_stopping_boundary_and_per_stage',)),
    Mutant('savemodel-run-wide', 'SaveModelCallback run-wide', "def before_run(self): self.best,self.wait,self.reset_on_fit = None,0,False",
           "def before_run(self): self.best,self.wait,self.reset_on_fit = None,0,True", ('tests/test_fastai_callbacks.py::test_save_model_matches_one_fit',)),
    # --- the feature cache
    Mutant('cache-stale', 'the cache is dropped when the body changes', "if not torch.equal(_fingerprint(ts), self.fp): return False", "pass",
           (nb('05_cache'),)),
    Mutant('cache-reused', 'the cache is reused across fits', "if not self._fresh(): self.clear(); self._plan(); self._stamp()",
           "self.clear(); self._plan(); self._stamp()", (nb('05_cache'),)),
    Mutant('cache-pass', 'the augmented pass an epoch reads', "self.tdl.k = self.stage_epoch % self.tdl.feats.shape[0]", "self.tdl.k = 0",
           (nb('05_cache'),)),
    Mutant('cache-pass-resume', 'the augmented pass an epoch reads, after a resume', "return self.epoch + (self.learn.stage.offset if self.stage_bn is not None else 0)",
           "return self.epoch", ('tests/test_resume.py::test_recipe_resumed_in_its_cached_head_stage',)),
    Mutant('cache-gpu', 'where the cache lives on a GPU', "if dev.type == 'cuda' and nbytes < torch.cuda.mem_get_info(dev)[0]/2: return dev",
           "if dev.type == 'cuda' and nbytes < torch.cuda.mem_get_info(dev)[0]*2: return dev", (nb('05_cache'),)),
    Mutant('sweep-same-start', "every weight-decay try starts from the same head", "        load_state(learn, start); learn.opt.clear_state()\n        rows.append(",
           "        learn.opt.clear_state()\n        rows.append(", (nb('01a_choice'),)),
    Mutant('sweep-hypers', "the weight-decay tries leave the optimizer's hyper-parameters as they found them",
           "    for h,o in zip(learn.opt.hypers, hypers): h.update(o)", "    pass", (nb('01a_choice'),)),
    Mutant('wd-every-stage', "every stage trains at the weight decay chosen, not the last try's", "**({} if self.wd_run is None else dict(wd=self.wd_run))}",
           "**({} if self.wd is None else dict(wd=self.wd))}", (f'{RR}::test_every_stage_at_the_chosen_wd',)),
    Mutant('head-loop-pass', "a head's fit outside fastai's loop reads the cached passes in turn", "learn.epoch,learn.dl = epoch,learn.dls.train",
           "learn.epoch,learn.dl = 0,learn.dls.train", (nb('05_cache'),)),
    Mutant('head-loop-draws', "a head's fit outside fastai's loop draws the random numbers fastai's would", "if epoch < epochs-1: next(iter(self.vdl))",
           "if False: next(iter(self.vdl))", (nb('05_cache'),)),
    Mutant('head-loop-schedule', "a head's fit outside fastai's loop follows the one-cycle schedule", "        pct += step", "        pass", (nb('05_cache'),)),
    Mutant('head-loop-busy', "callbacks that act on batches keep fastai's loop", "busy = [type(cb).__name__ for cb in [*learn.cbs, *L(cbs)] if not _quiet(cb, self)]",
           "busy = []", (nb('05_cache'),)),
    Mutant('head-loop-used', "the recipe's weight-decay tries run outside fastai's loop", "[BNPolicyCallback(self.head_bn)], self.cache_cb.fit_head)",
           "[BNPolicyCallback(self.head_bn), self.cache_cb])", (f'{RR}::test_tries_outside_fastais_loop',)),
    Mutant('drift-cached', "the drift reads the head's loss in inference mode from the cached clean pass",
           "order = draw_order(dl) if cached and cb.clean_first else None", "order = None", (f'{RR}::test_drift_reads_cached_features',)),
    Mutant('drift-cached-items', "the drift's cached loss is that of its own batches' items", "tensor(order[:sum(sizes)]).split(sizes)",
           "tensor(order[::-1][:sum(sizes)]).split(sizes)", (f'{RR}::test_drift_reads_cached_features',)),
    Mutant('drift-known-loss', "bn_gap skips the pass in inference mode when its loss is known",
           "ev = _mean_loss(learn, batches, []) if eval_loss is None else eval_loss", "ev = _mean_loss(learn, batches, [])", (f'{RR}::test_drift_reads_cached_features',)),
    Mutant('draw-order', "draw_order leaves what the loader draws unchanged", "    finally: rng.setstate(st); dl.rng = rng", "    finally: pass",
           (nb('02_callback.bn'),)),
    Mutant('clean-first', "the cache says whether its first pass has the validation transforms", "self.clean_first = passes[0] is clean",
           "self.clean_first = True", (nb('05_cache'),)),
    # --- resume
    Mutant('resume-position', 'resume carries on where it stopped', "return nx['i'],stage_from_dict(nx['stage']) if nx['stage'] else None,nx['used'],[_info_back(o) for o in nx['infos']]",
           "return 0,None,0,[]", ('tests/test_resume_faults.py::test_sigkill_anywhere',)),
    Mutant('resume-plateau', 'a resume file of another plateau is refused', "tracker=tr, plateau=_args(plateau), fit=_sig(kwargs))",
           "tracker=tr, plateau=None, fit=_sig(kwargs))", ('tests/test_errors.py::test_bad_resume_file[other plateau]',)),
    # --- refusals
    Mutant('refuse-lost-params', 'parameters in no group are refused', "    if lost: raise GroupError(", "    if False: raise GroupError(",
           ('tests/test_errors.py::test_params_missing_from_optimizer',)),
    Mutant('refuse-monitor', 'a monitor that is no recorder column is refused', "    if monitor not in cols:", "    if False:",
           ('tests/test_errors.py::test_bad_input[monitor not a column]',)),
    # --- what a task means
    Mutant('metric-direction', "direction of fastai's lower-is-better metrics", "_lower_funcs = (mse, mae, msle, _rmse, _exp_rmspe)",
           "_lower_funcs = (mse, mae, msle)", (nb('01_task'),)),
    Mutant('metric-by-name', 'a metric given by name', "m = next((o for o in L(metrics) if getattr(o, 'name', None) == monitor), monitor)",
           "m = monitor", (nb('01_task'),)),
    Mutant('item-values', 'per-item values (multi-label, segmentation)', "return l.detach().float().view(bs, -1).mean(1)",
           "return l.detach().float().view(-1, bs).mean(0)", (nb('01_task'),)),
    # --- the recipe
    Mutant('choice-beyond-chance', 'a candidate replaces the reference only beyond chance', "beats = lambda r: r['p'] < p if why is None",
           "beats = lambda r: r['p'] <= 1 if why is None", (RR,)),
    Mutant('choice-reference', 'the reference stays unless beaten', "ok = [i for i,r in enumerate(rows) if i == 0 or beats(r)]",
           "ok = [i for i,r in enumerate(rows) if i > 0 or beats(r)]", (RR,)),
    Mutant('recipe-budget', "the recipe's fine-tuning budget", "NEAR_BUDGET,FAR_BUDGET = (3, 10),(12, 10)", "NEAR_BUDGET,FAR_BUDGET = (2, 10),(12, 10)", (RR,)),
    Mutant('recipe-lr-ratio', "the recipe's LR ratio", "NEAR_BUDGET,FAR_BUDGET = (3, 10),(12, 10)", "NEAR_BUDGET,FAR_BUDGET = (3, 100),(12, 10)", (RR,)),
    Mutant('recipe-far-budget', "the recipe's far budget", "NEAR_BUDGET,FAR_BUDGET = (3, 10),(12, 10)", "NEAR_BUDGET,FAR_BUDGET = (3, 10),(3, 10)", (RR,)),
    Mutant('recipe-warmup', "the one-cycle warm-up of the recipe's stages", "pct_start=0.3, div=25., bn=head_bn", "pct_start=0.1, div=25., bn=head_bn", (RR,)),
    Mutant('recipe-few-shot', 'the few-shot rule (fewer than 16 items per class)', "FEW_SHOT = 16   #", "FEW_SHOT = 8   #", (RR,)),
    Mutant('recipe-no-tries', 'freeze_epochs=0 without weight-decay tries fine-tunes from the head as it is', "    if self.tried: load_state(",
           "    if True: load_state(", (RR,)),
    Mutant('recipe-head-from-try', "the head stage continues the best weight-decay try's head", "    if self.tried: load_state(",
           "    if not self.head_epochs and self.tried: load_state(", (RR,)),
    Mutant('recipe-head-from-try-said', "the head decision's evidence says where the head stage starts", "batch_size=hb, from_best_try=self.sweep)",
           "batch_size=hb, from_best_try=False)", (f'{RR}::test_head_stage_continues_the_best_try',)),
    Mutant('recipe-head-epochs', "the cached head stage's epochs", "HEAD_EPOCHS = 20   #", "HEAD_EPOCHS = 40   #", (RR,)),
    Mutant('recipe-head-bs', "the head's batch size on cached features", "head_bs=32,         #", "head_bs=16,         #", (RR,)),
    Mutant('recipe-far-drift', 'the drift threshold', "FAR_DRIFT = 2.4   #", "FAR_DRIFT = 3.4   #", (RR,)),
    Mutant('recipe-own-loss', "the learner's own loss is back after the run", "    finally: learn.loss_func = old", "    finally: pass",
           ('tests/test_kinds.py::test_recipe_runs_and_says_why[single_label]',)),
    Mutant('probe-head', 'the linear probe written exactly into the head', "w1[:c],w1[c:2*c] = W.cpu(),-W.cpu()", "w1[:c],w1[c:2*c] = W.cpu(),W.cpu()",
           (nb('01b_probe'),)),
    Mutant('recipe-probe-reference', "a few-shot task's reference is the probe head", "    if self.few and (self.probe or self.tried):", "    if False:",
           (nb('08_recipe'),)),
    Mutant('recipe-far-reference', "a far task's reference is the fine-tuned weights", "    if self.bn is None and d.choice == 'eval':", "    if False:", (RR,)),
    Mutant('cached-validation', 'heads validated on the cached features only with their body', "return self.vdl if all(torch.equal(sd[k], t) for k,t in self.body.items()) else None",
           "return self.vdl", (nb('05_cache'),)),
    Mutant('valid-batches-rng', 'kept validation batches leave the run drawing the same random numbers', "        torch.empty((), dtype=torch.int64).random_()   #",
           "        pass   #", (nb('05_cache'),)),
    Mutant('last-validation', "the weight-decay tries validate their last epoch", "if not self.training and self.epoch < self.n_epoch-1: raise CancelValidException()",
           "if not self.training and self.epoch < self.n_epoch: raise CancelValidException()", (nb('01a_choice'),)),
    Mutant('final-choice-batches', "the final choice reads the last validation's batches", "or self.vb.dl(self.learn, last=True)", "or self.vb.dl(self.learn)",
           (f'{RR}::test_final_choice_reads_the_last_validation_batches',)),
    Mutant('last-batches', "a pipeline that draws keeps its last validation's batches", "or not (self.key[1] or last): return None",
           "or not self.key[1]: return None", (nb('05_cache'), f'{RR}::test_final_choice_reads_the_last_validation_batches')),
    Mutant('final-choice-outputs', "the final choice reads the last validation's outputs for the fine-tuned weights",
           "or (self.ko and self.ko.dl(sd)) or", "or", (f'{RR}::test_final_choice_reads_the_last_outputs',)),
    Mutant('kept-outputs-weights', "kept outputs stand only for the weights that made them",
           "return _OutputsReplay(self) if all(torch.equal(sd[k], t) for k,t in self.sd.items()) else None", "return _OutputsReplay(self)",
           (nb('05_cache'), f'{RR}::test_final_choice_reads_the_last_outputs')),
    Mutant('kept-outputs-written', "kept outputs are dropped when the model is written after them in their fit",
           "if _same_stamp(_stamp_of(learn.model), k['stamp']): k['sd'] = state_of(learn)", "if True: k['sd'] = state_of(learn)", (nb('05_cache'),)),
    Mutant('kept-outputs-fit-end', "kept outputs stand for the weights their fit ended with, not those loaded after it",
           "    def after_fit(self): self._hold(self.learn)", "    def after_fit(self): pass", (f'{RR}::test_final_choice_reads_the_last_outputs',)),
    Mutant('kept-outputs-train-mode', "outputs are kept only from a validation in eval mode",
           " or any(o.training for o in m.modules()): self.outs = None", ": self.outs = None", (nb('05_cache'),)),
]

def _cells(path):
    return json.loads(path.read_text())

def locate(m, root=ROOT):
    "The notebook holding `m.old` exactly once, in an exported code cell"
    hits = []
    for p in sorted((root/'nbs').glob('*.ipynb')):
        for c in _cells(p)['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'code' and m.old in src: hits.append((p, src.count(m.old)))
    if [n for _,n in hits] != [1]: raise SystemExit(f"mutant {m.name}: {m.old!r} occurs {hits or 'nowhere'} in nbs/, not once")
    return hits[0][0]

def apply(m, root):
    "Write the bug into the copy's notebook and export it; the notebook's path"
    p = locate(m, root)
    d = _cells(p)
    for c in d['cells']:
        src = ''.join(c['source'])
        if m.old in src: c['source'] = src.replace(m.old, m.new).splitlines(keepends=True)
    p.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
    subprocess.run(['nbdev-export'], cwd=root, check=True, capture_output=True)
    return p

def copy_tree(dest):
    "The checkout's files (tracked or new, not ignored) in `dest`"
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '-z'], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split('\0')
    for f in filter(None, files):
        if (ROOT/f).is_file() and not f.startswith('benchmarks/results/'):
            (dest/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/f, dest/f)
    return dest

def run(m, root, timeout):
    "Run `m`'s tests in `root` with the bug in; (killed, seconds, the end of pytest's output)"
    env = {**os.environ, 'PYTHONPATH': str(root), 'FASTAI_FT_HYMENOPTERA': os.environ.get('FASTAI_FT_HYMENOPTERA', str(ROOT.parent/'shared'/'data'/'hymenoptera'))}
    t = time.time()
    try:
        p = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', '-o', 'addopts=', '-n', '0', *m.tests],
                           cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired: out, rc = f'timed out after {timeout} s (a hang counts as a failure)', -1
    return rc != 0 and 'no tests ran' not in out and 'ERROR: not found' not in out, time.time()-t, out[-1500:]

def table(results):
    "The markdown table of features, tests and the bugs they catch"
    rows = ['| feature | test | the bug it catches | broken on purpose |', '|---|---|---|---|']
    for m in MUTANTS:
        r = results.get(m.name)
        res = '-' if r is None else f"fails ({r['secs']:.0f} s)" if r['killed'] else '**passes: not guarded**'
        tests = '<br>'.join(f"`{t.replace('tests/', '').replace('test_notebooks.py::test_notebook', 'notebook')}`" for t in m.tests) or '**none**'
        rows.append(f"| {m.feature} | {tests} | `{m.old.strip()}` → `{m.new.strip() or '(line removed)'}` | {res} |")
    return '\n'.join(rows)

def write_table(results):
    txt = README.read_text()
    new = f"<!-- mutants -->\n{table(results)}\n<!-- /mutants -->"
    README.write_text(re.sub(r'<!-- mutants -->.*<!-- /mutants -->', lambda _: new, txt, flags=re.S))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--only', nargs='*', help='run the mutants whose name contains any of these')
    ap.add_argument('--list', action='store_true', help='list the mutants and where they apply, run nothing')
    ap.add_argument('--control', action='store_true', help='run every named test once without a bug: all must pass')
    ap.add_argument('--timeout', type=int, default=900, help='seconds before a mutant counts as hung (killed)')
    ap.add_argument('--out', default=str(ROOT/'tests'/'mutants.json'), help='results file (read back for the table)')
    a = ap.parse_args()
    ms = [m for m in MUTANTS if not a.only or any(o in m.name for o in a.only)]
    if a.list:
        for m in ms: print(f"{m.name:22} {locate(m).name:32} {', '.join(m.tests) or '-'}")
        sys.exit(0)
    if a.control:
        with tempfile.TemporaryDirectory() as d:
            tests = sorted({t for m in ms for t in m.tests})
            failed, secs, tail = run(Mutant('control', '', '', '', tuple(tests)), copy_tree(Path(d)/'checkout'), a.timeout*4)
            print(f"control: {len(tests)} tests {'FAILED' if failed else 'passed'} without a bug ({secs:.0f} s)\n{tail if failed else ''}")
        sys.exit(1 if failed else 0)
    out = Path(a.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    with tempfile.TemporaryDirectory() as d:
        root = copy_tree(Path(d)/'checkout')
        for m in ms:
            p = locate(m, root); saved = p.read_text(); lib = {f: f.read_text() for f in (root/'fastai_ft').rglob('*.py')}
            try:
                apply(m, root)
                killed, secs, tail = run(m, root, a.timeout) if m.tests else (False, 0., 'no test named')
            finally:
                p.write_text(saved)
                for f,t in lib.items(): f.write_text(t)
            results[m.name] = dict(killed=killed, secs=round(secs, 1), tests=list(m.tests))
            print(f"{'killed  ' if killed else 'SURVIVED'} {m.name:22} {secs:6.1f} s", flush=True)
            why = [l for l in tail.splitlines() if l.startswith(('E ', 'FAILED')) or 'Error' in l] if killed else tail.strip().splitlines()[-1:]
            if why: print('   ' + why[0][:200], flush=True)   # the failure, to check it is the feature's
            out.write_text(json.dumps(results, indent=1) + '\n')
    if README.exists(): write_table(results)
    survived = [n for n in (m.name for m in ms) if not results[n]['killed']]
    print(f"{len(ms)-len(survived)} of {len(ms)} mutants killed" + (f"; survived: {', '.join(survived)}" if survived else ''))
    sys.exit(1 if survived else 0)
