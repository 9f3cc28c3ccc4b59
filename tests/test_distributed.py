"""staged_fine_tune under fastai's distributed training: two CPU processes (gloo), launched with torchrun (`python -m torch.distributed.run`,
so the processes run this interpreter, whichever environment it is in), compared with each other and with the same code in one process.

A run is retried only when it failed to start: neither process printed `READY` (the process group is up, training starts) and
its stderr names one of `STARTUP_FAILURES` (gloo's and c10d's messages when the rendezvous or the process group cannot be set up,
e.g. the free port taken by someone else before torchrun bound it). Anything after `READY` (a collective that times out because
one process waits where the other never comes, a crash, the watchdog) fails the test with both processes' stacks."""
import json, os, signal, socket, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch

pytest.importorskip('accelerate')
HERE = Path(__file__).parent
READY = 'ddp_worker: process group up, training starts, rank'   # printed by tests/ddp_worker.py
STARTUP_FAILURES = ('address already in use', 'the server socket has failed to listen', 'the client socket has failed to connect',
                    'the client socket has timed out', 'tcp client failed to connect', 'waiting for clients', 'connection refused',
                    'connection reset by peer', 'socket timeout', 'connect timeout')   # c10d's TCPStore, then gloo's pairs; lower case
pytestmark = pytest.mark.xdist_group('ddp')   # one pytest worker runs the runs of this module, one at a time, and shares them
_runs,retries = {},[]

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _run(args, out, timeout=150):
    "Run `args` for `out`, killing its whole process group if it outlives `timeout` (the workers' watchdog fires at 100 s)"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS='1',   # the checkout's package, whatever is installed
               PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get('PYTHONPATH', '')]))
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True) as p:
        try: so,se = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL); so,se = p.communicate(); se += f"\n[killed after {timeout} s]"
    return subprocess.CompletedProcess(args, p.returncode, so, se)

def startup_failure(p):
    "The named start-up failure that stopped `p` before any process was ready to train, or None"
    if p.returncode == 0 or READY in p.stdout: return None
    return next((s for s in STARTUP_FAILURES if s in p.stderr.lower()), None)

def _logs(p): return f"stdout ends:\n{p.stdout[-3000:]}\nstderr (both processes' stacks) ends:\n{p.stderr[-8000:]}"

def _launch(mode, tmp, tries):
    "Run `mode` on two processes, retrying (on a new port) only a start-up failure: (the finished run, its retries, its folder)"
    for i in range(tries):
        out = tmp/f'two-{mode}-{i}'
        p = _run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', str(_free_port()),
                  str(HERE/'ddp_worker.py'), str(out), mode], out)
        if not (why := startup_failure(p)) or i == tries-1: break
        retries.append(f"{mode}: {why}")
        print(f"two-process run ({mode}) failed to start ({why!r}); retrying on a new port. Its stderr ends:\n{p.stderr[-2000:]}")
    return p, i, out

def two_processes(mode, tmp, tries=3):
    "The two processes' results for `mode` (run once per session): their JSON, their weights, their folder"
    if mode not in _runs: _runs[mode] = _launch(mode, tmp, tries)
    p,i,out = _runs[mode]
    print(f"two-process run ({mode}): {i} start-up retries ({len(retries)} in this session: {retries})")
    assert p.returncode == 0, f"The two-process run ({mode}) failed after {i} start-up retries; {_logs(p)}"
    assert p.stdout.count(READY) == 2, p.stdout[-3000:]
    return [json.loads((out/f'rank{r}.json').read_text()) for r in (0, 1)], [torch.load(out/f'rank{r}.pth') for r in (0, 1)], out

def one_process(tmp, modes=('staged', 'recipe')):
    "The same worker code in one process, without `distrib_ctx`: the runs of all `modes`, in one start-up (once per session)"
    if 'one' not in _runs:
        out = tmp/'one'
        _runs['one'] = _run([sys.executable, str(HERE/'ddp_worker.py'), str(out), ','.join(modes), '--single'], out), out
    p,out = _runs['one']
    assert p.returncode == 0, f"The one-process run failed; {_logs(p)}"
    return json.loads((out/'single.json').read_text())

def parts(decisions):
    "What each decision is about"
    return [d['part'] for d in decisions]

@pytest.mark.parametrize('mode', ['staged', 'recipe', 'nonfinite'])
def test_two_processes_agree(mode, tmp_path_factory):
    "Adaptive and fixed staged runs with roll-backs, recipe='auto' (feature cache, sweeps, drift, final choice), and a NaN batch on one process: the same decisions and weights on both"
    (r0, r1), (w0, w1), out = two_processes(mode, tmp_path_factory.mktemp('ddp'))
    assert r0.keys() == r1.keys()
    for k in r0:   # every process records (and decides on) the main process's values, so everything is equal, not close
        assert r0[k]['stages'] == r1[k]['stages'], (k, r0[k]['stages'], r1[k]['stages'])   # same stages, same epochs, same reasons
        assert r0[k]['plan'] == r1[k]['plan'] and r0[k]['non_finite'] == r1[k]['non_finite'], k
        assert r0[k]['best'] == r1[k]['best'] and r0[k]['valid_loss'] == r1[k]['valid_loss'], k
        assert json.dumps(r0[k]['decisions'], default=str) == json.dumps(r1[k]['decisions'], default=str), (k, r0[k]['decisions'], r1[k]['decisions'])
        for n in w0[k]: assert torch.equal(w0[k][n], w1[k][n]), (k, n)     # identical weights
    if mode == 'recipe':   # every head-only epoch validated on the cached features: DDP's rewrites of the body (same values) keep the cache
        r = r0['recipe']
        assert r['head_validations'] == {'_FeatureDL': r['head_epochs']}, (r['head_validations'], r['head_epochs'])   # every head-only epoch, on features
        assert r['cache_builds'] == r1['recipe']['cache_builds'] == 1, (r['cache_builds'], r1['recipe']['cache_builds'])   # once for the three tries and the head stage
        d = {o['part']: o for o in r['decisions']}
        assert d['wd']['choice'] in (1e-3, 1e-2, 1e-1) and d['probe']['choice'] is not None, r['decisions']   # the cache ran: a sweep, a probe
    if mode != 'nonfinite':
        assert len(list((out/'ckpt').glob('*.pth'))) == 1, list((out/'ckpt').glob('*.pth'))   # only the main process wrote checkpoints
    else:   # a NaN batch on any process stops every process before the step (RunTracker.before_batch): averaged gradients would carry it everywhere
        for k in ('nan_on_rank0', 'nan_on_rank1'):   # on the main process or on the other: the same stop, on its inputs, before the first step
            a = r0[k]
            assert a['stages'] == [['frozen', 1, 'done', None], ['unfrozen', 0, 'non_finite', 'stop']], (k, a['stages'])
            assert a['non_finite'][1] == dict(cause='inputs', batch=0, epoch=0, first=True), (k, a['non_finite'])
            assert a['best']['stage_name'] == 'frozen' and len(a['valid_loss']) == 1, (k, a)
            assert all(torch.isfinite(v).all() for v in w0[k].values() if v.is_floating_point())

@pytest.mark.parametrize('mode', ['staged', 'recipe'])
def test_one_process_agrees_with_two(mode, tmp_path_factory):
    """What does not depend on how the data is split across processes is the same on one process as on two.
    What differs, legitimately: DDP gives each process its own part of every epoch (fastai's `DistributedDL`), so a step
    averages the gradients of two batches and an epoch has half as many steps; losses, metrics, the epochs an adaptive stage
    runs, the best epoch, the numbers behind each decision (and so a choice made on them, e.g. the recipe's LRs, BatchNorm
    policy and final weights) and the weights differ."""
    tmp = tmp_path_factory.mktemp('ddp')
    (r, _), _, _ = two_processes(mode, tmp)
    one = one_process(tmp)
    for k in r:
        two = r[k]
        assert parts(one[k]['decisions']) == parts(two['decisions']), (k, one[k]['decisions'], two['decisions'])   # which decisions there are
        if k == 'staged':   # adaptive stages: the stages, groups, LRs and BatchNorm policies planned (their epochs depend on the losses)
            assert [p[:2]+p[3:] for p in one[k]['plan']] == [p[:2]+p[3:] for p in two['plan']], (one[k]['plan'], two['plan'])
        if k == 'fixed':    # fixed epochs, gradual unfreezing, a BatchNorm policy per stage: the plan, and the epochs each stage ran
            assert one[k]['plan'] == two['plan'], (one[k]['plan'], two['plan'])
            assert [s[:3] for s in one[k]['stages']] == [s[:3] for s in two['stages']] == [['frozen', 1, 'done'], ['last2', 1, 'done'], ['unfrozen', 2, 'done']], two['stages']
        if k == 'recipe':   # the stages and epochs fixed by epochs=2, freeze_epochs=5; the head on the cached features, 3 tries of 10 epochs, built once
            assert [p[:3] for p in one[k]['plan']] == [p[:3] for p in two['plan']] == [['head', 1, 5], ['unfrozen', 3, 2]], two['plan']
            assert [s[:3] for s in one[k]['stages']] == [s[:3] for s in two['stages']] == [['head', 5, 'done'], ['unfrozen', 2, 'done']], two['stages']
            assert one[k]['plan'][0][4] == two['plan'][0][4] == 'freeze'
            assert one[k]['head_validations'] == two['head_validations'], (one[k]['head_validations'], two['head_validations'])
            assert one[k]['cache_builds'] == two['cache_builds'] == 1

def test_retries_only_startup_failures(tmp_path):
    "torchrun on a port someone else holds fails to start, with a message `startup_failure` names; a failure after READY is never retried"
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); s.listen()
        p = _run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', str(s.getsockname()[1]),
                  str(HERE/'ddp_worker.py'), str(tmp_path), 'staged'], tmp_path)
    assert p.returncode != 0 and startup_failure(p) == 'address already in use', _logs(p)
    hang = "gloo/transport/tcp/pair.cc Connection refused ... Timed out waiting 45000ms for send operation to complete"
    assert startup_failure(subprocess.CompletedProcess([], 1, f"{READY} 0\n{READY} 1\n", hang)) is None        # a desync, or a crash, during the run
    assert startup_failure(subprocess.CompletedProcess([], 1, '', 'RuntimeError: mat1 and mat2 shapes cannot be multiplied')) is None   # not a named start-up failure
