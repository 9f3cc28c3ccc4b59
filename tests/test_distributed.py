"staged_fine_tune under fastai's distributed training: two CPU processes (gloo), launched with torchrun (`python -m torch.distributed.run`, so the processes run this interpreter, whichever environment it is in)."
import json, os, shutil, socket, subprocess, sys, warnings
from pathlib import Path
import pytest, torch

HERE = Path(__file__).parent

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _launch(out, mode):
    "Run the two processes; None if they hung (the worker's watchdog or gloo's timeout fired), else the finished process"
    out.mkdir(parents=True, exist_ok=True)
    port = str(_free_port())
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_PORT=port,   # the checkout's package, whatever is installed
               PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get('PYTHONPATH', '')]))
    try: p = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', port, str(HERE/'ddp_worker.py'), str(out), mode],
                            capture_output=True, text=True, timeout=300, env=env)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors='replace') if isinstance(e.stderr, bytes) else (e.stderr or '')
        return None, f"timed out after 300 s\n{err[-3000:]}"
    hung = p.returncode != 0 and any(o in p.stderr for o in ('Timeout (0:04:00)!', 'timed out', 'Timed out', 'Application timeout'))   # the last two: gloo's
    return (None if hung else p), p.stderr[-6000:]

@pytest.mark.parametrize('mode', ['staged', 'recipe'])
def test_two_processes_agree(mode, tmp_path):
    "An adaptive staged run with roll-backs, and recipe='auto' (feature cache, sweeps, drift, final choice): the same decisions and weights on both"
    pytest.importorskip('accelerate')
    p,err = _launch(tmp_path/'1', mode)
    if p is None:   # a hang, not a disagreement: say so with the stacks, and try once more on a new port
        warnings.warn(f"The two-process run hung once; retrying. Its stderr ends:\n{err}")
        p,err = _launch(tmp_path/'2', mode)
        assert p is not None, f"The two-process run hung twice:\n{err}"
    out = Path(p.args[-2])
    assert p.returncode == 0, p.stdout[-3000:] + err
    r0, r1 = (json.loads((out/f'rank{i}.json').read_text()) for i in (0, 1))
    assert r0['stages'] == r1['stages'], (r0['stages'], r1['stages'])     # same stages, same epochs, same reasons
    assert r0['best'] == r1['best'] and r0['valid_loss'] == r1['valid_loss']
    assert r0['decisions'] == r1['decisions'], (r0['decisions'], r1['decisions'])   # the same report lines on every process
    if mode == 'recipe':   # every head-only epoch validated on the cached features: DDP's rewrites of the body (same values) keep the cache
        assert set(r0['head_validations']) == {'_FeatureDL'} and r0['head_validations']['_FeatureDL'] >= 35, r0['head_validations']
        assert r0['cache_builds'] == r1['cache_builds'] == 1, (r0['cache_builds'], r1['cache_builds'])   # once for the three tries and the head stage
        assert len(r0['decisions']) == 7 and r0['decisions'][1].startswith('weight decay of the head:') and 'written into the head exactly' in r0['decisions'][2], r0['decisions']   # the cache ran: a sweep
    w0, w1 = (torch.load(out/f'rank{i}.pth') for i in (0, 1))
    for k in w0: assert torch.equal(w0[k], w1[k]), k                     # identical weights
    ckpts = list((out/'ckpt').glob('*.pth'))
    assert len(ckpts) == 1, ckpts                                         # only the main process wrote checkpoints
