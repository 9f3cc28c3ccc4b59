"""The results files of the benchmarks: results/NAME.json, holding beside its rows the command, the commit and the seeds
that produced them. Every script writes through `save`; `tables.py --check` fails on a file without the three.

    command   the command line; a list when several processes wrote one file
    commit    HEAD of the checkout the package was imported from (None outside a git checkout)
    dirty     whether the package or the scripts had changes not committed (results/ aside)
    seeds     the seeds of the rows, sorted; per task ({task: seeds}) when the rows have a `task`

Processes that split one run by seed or by task (two side by side on two cores) give the same name: each adds its rows
to the file under a lock, a row replacing the row of the same task, config and seed. A file takes no rows of another
commit: a run is one version of the code (give a new name, or delete the old file: git keeps it)."""
import fcntl, json, os, shlex, subprocess, sys
from contextlib import contextmanager
from functools import cache
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH/'results'
KEY = ('task', 'config', 'seed')   # what makes a row the same run

@cache
def provenance():
    "The command line, the commit and the dirty flag of this process"
    import fastai_ft
    git = lambda *a: subprocess.run(['git', '-C', str(Path(fastai_ft.__file__).parent), *a], capture_output=True, text=True)
    root = git('rev-parse', '--show-toplevel').stdout.strip()
    commit = git('rev-parse', 'HEAD').stdout.strip() or None
    changes = git('-C', root, 'status', '--porcelain', '--untracked-files=no', '--', 'fastai_ft', 'benchmarks', ':!benchmarks/results').stdout if root else ''
    return dict(command=shlex.join(['python', f'benchmarks/{Path(sys.argv[0]).name}', *sys.argv[1:]]), commit=commit, dirty=bool(changes.strip()))

@contextmanager
def _locked():
    "results/ locked against the other processes' writes"
    fd = os.open(RESULTS, os.O_RDONLY)
    try: fcntl.flock(fd, fcntl.LOCK_EX); yield
    finally: os.close(fd)   # closing releases the lock

def seeds_of(rows):
    "The sorted seeds of `rows`, per task when they have one"
    if any('task' in r for r in rows):
        return {t: sorted({r['seed'] for r in rows if r.get('task') == t}) for t in dict.fromkeys(r['task'] for r in rows)}
    return sorted({r['seed'] for r in rows if 'seed' in r})

def save(name, rows=None, seeds=None, **fields):
    "Write results/NAME.json: provenance, seeds (from the rows unless given), `fields`, rows; add to a file of the same commit. Its rows"
    RESULTS.mkdir(exist_ok=True)
    path, me = RESULTS/f'{name}.json', provenance()
    with _locked():
        old = json.loads(path.read_text()) if path.exists() else None
        if old is not None and old.get('commit') != me['commit']:
            sys.exit(f"results/{name}.json holds rows of commit {old.get('commit')}, this process runs {me['commit']}: "
                     f"give another --name, or delete the file (git keeps it)")
        if old is not None and rows is not None:
            key = lambda r: tuple(r.get(k) for k in KEY)
            new = {key(r) for r in rows}
            rows = [r for r in old.get('rows', []) if key(r) not in new] + rows
            cmds = old['command'] if isinstance(old['command'], list) else [old['command']]
            cmds += [me['command']] * (me['command'] not in cmds)
            me = dict(me, command=cmds if len(cmds) > 1 else cmds[0], dirty=old.get('dirty') or me['dirty'])
            fields = {k: {**old[k], **v} if isinstance(v, dict) and isinstance(old.get(k), dict) else old.get(k, v) for k, v in fields.items()}
        d = dict(me, seeds=seeds if seeds is not None else seeds_of(rows or []), **fields)
        if rows is not None: d['rows'] = rows
        tmp = path.with_name(f'.{path.name}.tmp')
        tmp.write_text(json.dumps(d, indent=1, default=str)); tmp.replace(path)
    return rows
