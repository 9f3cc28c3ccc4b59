#!/usr/bin/env python
"""Build the docs site into `_site/` from the notebooks: `python docs/build.py` (Quarto, which `nbdev-docs` needs, is not installable here).

1. Run: each notebook runs as `nbdev-test` runs it and its executed copy is kept in `_exec/`. `tests/test_notebooks.py` keeps the
   same copies, so after the tests nothing runs twice; a copy is reused while its notebook and the library are unchanged.
2. Process: nbdev's own doc processors (those `nbdev.serve.proc_nbs` applies): hidden and exported cells dropped, a `show_doc`
   added and run for each export, backticked names linked, the title and description moved to front matter.
3. Translate what only Quarto reads (front matter, cell options, `{target=...}` links, links to the hosted site) for
   Sphinx + myst-nb + sphinx-book-theme (configured in `docs/conf.py`), which render `_site/`."""
import argparse, contextlib, hashlib, importlib, json, os, re, shutil, subprocess, sys, time, unittest
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, EXEC, STAGE, SITE = ROOT/'nbs', ROOT/'_exec', ROOT/'_build'/'docs', ROOT/'_site'

def _key(nb:Path):
    "What an executed copy of `nb` depends on: the notebook itself and the library it imports"
    h = hashlib.sha256(nb.read_bytes())
    for f in sorted((ROOT/'fastai_ft').rglob('*.py')): h.update(f.read_bytes())
    return h.hexdigest()[:16]

def executed(nb:Path):
    "The executed copy of `nb` in `_exec/` if it is up to date, else None"
    f = EXEC/nb.name
    if f.exists() and json.loads(f.read_text()).get('metadata', {}).get('fastai_ft_key') == _key(nb): return f

def _notebook_code(v):
    "Is `v` a function (method, property) that a notebook defined, rather than a library module?"
    v = v.fget if isinstance(v, property) else getattr(v, '__func__', v)
    while hasattr(v, '__wrapped__'): v = v.__wrapped__
    code = getattr(v, '__code__', None)
    return code is not None and not code.co_filename.endswith('.py')

@contextlib.contextmanager
def fresh_kernel(prefixes=('fastai', 'fastcore')):
    """Undo what a notebook's own code did to fastai's and this package's classes and registries (its `@patch` cells, its
    registrations), as Jupyter's kernel per notebook would: later notebooks and tests see the library, not notebook code.
    fastai's and this package's modules are imported first, so their own patches (fastai's `fit_one_cycle`,
    `recipes['auto']`) are part of what is kept; whatever a library imported meanwhile adds stays too."""
    for m in ('fastai.vision.all', 'fastai.text.all', 'fastai.tabular.all', 'fastai.callback.all', 'fastai_ft.all', 'fastai_ft.cli'):
        with contextlib.suppress(ImportError): importlib.import_module(m)   # their patches are in place before the snapshot
    mods = [m for n,m in list(sys.modules.items()) if m is not None and n.startswith(prefixes)]
    classes = {v: dict(vars(v)) for m in mods for v in list(vars(m).values()) if isinstance(v, type)}
    dicts = {id(v): (v, dict(v)) for m in mods if m.__name__.startswith('fastai_ft') for v in list(vars(m).values()) if type(v) is dict}
    def _undo(now, before, put, drop):
        for k,v in list(now.items()):
            if (k not in before or before[k] is not v) and _notebook_code(v):
                with contextlib.suppress(AttributeError, TypeError):
                    if k in before: put(k, before[k])
                    else: drop(k)
    try: yield
    finally:
        for cls,d in classes.items(): _undo(dict(vars(cls)), d, partial(setattr, cls), partial(delattr, cls))
        for v,d in dicts.values(): _undo(dict(v), d, v.__setitem__, v.pop)

def run_nb(nb:Path, skip_flags=('slow',), dest:Path=EXEC):
    "Run `nb` as `nbdev-test` does; on success keep the executed copy in `dest`. Returns (ok, seconds); a notebook raising `SkipTest` skips"
    from fastcore.nbio import write_nb
    from fastcore.xtras import working_directory
    from nbdev.process import NBProcessor
    from nbdev.config import get_config
    from nbdev.test import _skip_cell
    from execnb.shell import CaptureShell
    nb, key, start = Path(nb), _key(nb), time.time()
    (dest/nb.name).unlink(missing_ok=True)
    prev = os.environ.get('IN_TEST')
    os.environ['IN_TEST'] = '1'
    try:
        nbk = NBProcessor(nb, rm_directives=False, process=True).nb
        k = CaptureShell(nb, profile=bool(get_config(nb.parent).exec_profile))
        try:
            with working_directory(nb.parent), fresh_kernel():
                k.run_all(nbk, exc_stop=True, preproc=_skip_cell(nbk, list(skip_flags)), cell_timeout=get_config().cell_timeout)
        except unittest.SkipTest: raise
        except Exception:
            sys.__stderr__.write((k.prettytb(fname=nb) or '') + '\n')
            return False, time.time()-start
        nbk.metadata['fastai_ft_key'] = key
        dest.mkdir(exist_ok=True)
        write_nb(nbk, dest/nb.name)
        return True, time.time()-start
    finally:
        if prev is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = prev

def _procs():
    "nbdev's doc processors, except that a cell mixing imports with other code keeps the outputs of its real run"
    import ast
    from nbdev.processors import FilterDefaults, exec_show_docs, _show_docs
    def _needed(cell):
        trees = cell.parsed_() or []
        return bool(cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or _show_docs(trees)
                    or trees and all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees))
    class exec_needed(exec_show_docs):
        "`exec_show_docs` run on what `show_doc` needs: exports, import-only cells and `show_doc` calls"
        def __call__(self, cell):
            if cell.cell_type != 'code' or _needed(cell): super().__call__(cell)
    class Procs(FilterDefaults):
        def base_procs(self): return [exec_needed if p is exec_show_docs else p for p in super().base_procs()]
    return Procs()

def process(nb:Path):
    "nbdev's doc processing of notebook `nb` (what `nbdev.serve.proc_nbs` does to each notebook)"
    from fastcore.nbio import read_nb
    from fastcore.xtras import working_directory
    nbk, prev = read_nb(nb), os.environ.get('IN_TEST')
    os.environ['IN_TEST'] = '1'
    try:
        with working_directory(NBS), fresh_kernel(): _procs()(nbk)
    finally:
        if prev is None: os.environ.pop('IN_TEST', None)
    return nbk

# --- Quarto to MyST ---------------------------------------------------------------------------------------------------
def slug(heading:str):
    "A heading's anchor as Quarto (pandoc) makes it, so nbdev's links (`core.html#learner.staged_fine_tune`) find it"
    s = re.sub(r'[^\w\s.-]', '', heading).strip().lower()
    return re.sub(r'\s+', '-', re.sub(r'^[^a-z]+', '', s))

_re_src = re.compile(r'^---\s*\n+\[source\]\((\S+?/blob/[^/]+/(\S+?))#L(\w+)\)\{[^}]*\}\s*\n\s*(#+) (\S+)\n')
def _show_doc(m):
    "nbdev's `show_doc` heading with its source link (the line number nbdev misses for `fastai_ft.mod.name`, filled in)"
    from nbdev.doclinks import _lineno
    url, py, line, h, nm = m.groups()
    if line == 'None': line = _lineno(nm, py)
    href = f'{url}#L{line}' if line else url
    return f'<a class="source-link" href="{href}" target="_blank" rel="noopener">source</a>\n\n{{.showdoc}}\n{h} {nm}\n\n'

def _md(src:str):
    "Quarto-flavoured markdown to MyST"
    src = re.sub(r'^---\s*\n+(?=#)', '', _re_src.sub(_show_doc, src))  # show_doc's leading rule: CSS draws it
    src = re.sub(r'^:::\s*\{\.callout-(note|tip|warning|important|caution)[^}]*\}', r':::{\1}', src, flags=re.M)  # Quarto callouts
    return re.sub(r'(\[[^\]]*\]\([^)]*\))\{[^}]*target=[^}]*\}', r'\1', src)  # {target="_blank"}

_re_opt = re.compile(r'^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_tags = {('echo','false'):'remove-input', ('output','false'):'remove-output', ('include','false'):'remove-cell',
         ('code-fold','true'):'hide-input', ('code-fold','show'):'hide-input'}
def _cell_opts(cell):
    "Remove Quarto's `#| key: value` options from a code cell's top and return them"
    lines, opts = cell.source.splitlines(), {}
    while lines and (m := _re_opt.match(lines[0])):
        opts[m[1]] = m[2].strip('"\'').lower()
        lines.pop(0)
    cell.source = '\n'.join(lines)
    return opts

def _asis(cell):
    "The markdown a Quarto `output: asis` cell puts in the page"
    return '\n\n'.join(''.join(o['data']['text/markdown']) for o in cell.get('outputs', []) if 'text/markdown' in o.get('data', {}))

def _as_terminal(txt:str):
    "Stream text as a terminal (or Jupyter) shows it: each line is what follows its last carriage return; the empty 'Epoch 1/1 :' labels a finished console progress bar leaves are dropped"
    lines = [l.split('\r')[-1] for l in txt.split('\n')]
    return '\n'.join(l for l in lines if not re.fullmatch(r'\s*(Epoch \d+/\d+ :)?\s*', l) or l == '')

def translate(nb):
    "A notebook processed by nbdev, as myst-nb reads it"
    import yaml
    from fastcore.nbio import mk_cell
    cells = []
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.startswith('---'):
            fm = yaml.safe_load(c.source.strip().strip('-'))
            md = f"# {fm.get('title', '')}\n"
            if fm.get('description'): md += f"\n{{.lead}}\n{fm['description']}\n"
            cells.append(mk_cell(md, 'markdown')); continue
        if c.cell_type == 'markdown':
            if c.source.strip().startswith('<!-- WARNING'): continue
            c.source = _md(c.source)
        if c.cell_type == 'code':
            opts = _cell_opts(c)
            if opts.get('output') == 'asis':
                md = _md(_asis(c))
                m = re.match(r'^(<a class="source-link".*?\n\n\{\.showdoc\}\n)#+ (\S+)\n', md)
                if m and cells and cells[-1].cell_type == 'markdown' and cells[-1].source.strip() == f'## {m[2]}':
                    cells.pop()  # "## Name" right above show_doc's "### Name": one heading, not two with the same anchor
                    md = m[1] + f'## {m[2]}\n' + md[m.end():]
                cells.append(mk_cell(md, 'markdown')); continue
            for o in c.get('outputs', []):
                if o.get('output_type') == 'stream': o['text'] = _as_terminal(''.join(o['text']))
            c.outputs = [o for o in c.get('outputs', []) if o.get('output_type') != 'stream' or o['text'].strip()]
            tags = [t for k,v in opts.items() if (t := _tags.get((k,v)))]
            if tags: c.metadata['tags'] = tags
        cells.append(c)
    nb.cells = cells
    return nb

def _headings(nb):
    "Anchors of the headings of `nb`"
    md = '\n'.join(c.source for c in nb.cells if c.cell_type == 'markdown')
    return {slug(h) for h in re.findall(r'^#{1,6}\s+(.+?)\s*$', re.sub(r'```.*?```', '', md, flags=re.S), re.M)}

def _md_out(c):
    "Markdown outputs of code cell `c`"
    return [o for o in c.get('outputs', []) if 'text/markdown' in o.get('data', {})]

_re_rel = re.compile(r'\]\((?![a-z]+:|#|[\w.]+\.ipynb[#)])([^)\s]+)\)')  # relative links, except to pages
def link(pages:dict, doc_url:str, git_url:str, branch:str):
    "Links to the hosted docs (`doc_url/core.html#stage`) become cross-references inside the site (dead ones plain text); other files of the repository, links to it"
    anchors = {n:_headings(p) for n,p in pages.items()}
    base = re.escape(doc_url.rstrip('/')+'/')
    def _fix(m):
        txt, page, anchor = m[1], m[2], m[3]
        if page not in pages: return txt
        if anchor and anchor not in anchors[page]: return txt
        return f'[{txt}]({page}.ipynb{"#"+anchor if anchor else ""})'
    pat = re.compile(rf'\[([^\]]*)\]\({base}([\w.]+?)\.html(?:#([^)\s]+))?\)')
    for n,p in pages.items():
        rel = ROOT if n == 'index' else NBS  # index.ipynb is also the README, at the root of the repository
        repo = lambda m: f"]({git_url}/blob/{branch}/{(rel/m[1]).resolve().relative_to(ROOT).as_posix()})"
        for c in p.cells:
            if c.cell_type == 'markdown': c.source = _re_rel.sub(repo, pat.sub(_fix, c.source))
            for o in _md_out(c) if c.cell_type == 'code' else []: o['data']['text/markdown'] = pat.sub(_fix, ''.join(o['data']['text/markdown']))

def as_markdown(nb):
    "A page as plain markdown, for `NAME.html.md` beside `NAME.html` (nbdev's sites have them; the module docstrings link them)"
    out = []
    for c in nb.cells:
        if c.cell_type == 'markdown':
            md = re.sub(r'<a class="source-link" href="(\S+)"[^>]*>source</a>', r'[source](\1)', re.sub(r'^\{\.\w+\}\n', '', c.source, flags=re.M))
            out.append(re.sub(r'\]\(([\w.]+)\.ipynb', r'](\1.html.md', md)); continue
        if c.cell_type != 'code' or 'remove-cell' in c.metadata.get('tags', []): continue
        if 'remove-input' not in c.metadata.get('tags', []) and c.source.strip(): out.append(f"```python\n{c.source}\n```")
        for o in c.get('outputs', []):
            d = o.get('data', {})
            if 'text/markdown' in d: out.append(''.join(d['text/markdown']))
            elif txt := ''.join(o.get('text', '') or d.get('text/plain', '')):
                if 'image/png' not in d: out.append(f"```\n{txt.rstrip()}\n```")
    return '\n\n'.join(out) + '\n'

def _write(f:Path, txt:str):
    "Write `txt` to `f` only if it changed, so Sphinx rebuilds only what changed"
    if not f.exists() or f.read_text() != txt: f.write_text(txt)

def build(out:Path=SITE, force:bool=False, quiet:bool=False):
    "Run (or reuse), process and translate every notebook, then render the site into `out`"
    from fastcore.nbio import nb2dict, mk_cell
    from nbdev.config import get_config
    from nbdev.doclinks import nbpath2html
    t0 = time.time()
    nbs = sorted(NBS.glob('*.ipynb'))
    pages, unrun = {}, {}
    for nb in nbs:
        if force or not executed(nb):
            print(f'running {nb.name}', flush=True)
            try: ok, secs = run_nb(nb)
            except unittest.SkipTest as e: ok, unrun[nb.name] = None, str(e)
            if ok is False: sys.exit(f'{nb.name} failed to run (traceback above): fix it before building the docs.')
        src = EXEC/nb.name if executed(nb) else nb
        p = translate(process(src))
        if nb.name in unrun:
            p.cells.insert(1, mk_cell(f":::{{warning}}\nThis page was built without running its code: {unrun[nb.name]}\n:::", 'markdown'))
        pages[nbpath2html(src).stem] = p
    cfg = get_config()
    link(pages, cfg.doc_url or 'https://example.invalid', cfg.git_url, cfg.branch)
    guides = sorted((n for n,nb in zip(pages, nbs) if n != 'index' and not re.match(r'\d', nb.name)), key=lambda n: (not n.startswith('tutorial'), n))   # the tutorials first
    api = [n for n,nb in zip(pages, nbs) if re.match(r'\d', nb.name)]
    pages['index'].cells.append(mk_cell(''.join(f"\n```{{toctree}}\n:hidden:\n:caption: {cap}\n\n" + '\n'.join(ns) + '\n```\n'
                                                for cap,ns in (('Guides', guides), ('API', api)) if ns), 'markdown'))
    STAGE.mkdir(parents=True, exist_ok=True)
    for f in STAGE.glob('*.ipynb'):
        if f.stem not in pages: f.unlink()
    for name,p in pages.items(): _write(STAGE/f'{name}.ipynb', json.dumps(nb2dict(p), indent=1))
    t1 = time.time()
    html = STAGE.parent/'html'  # myst-nb writes images beside the output folder, so render inside _build/ and copy
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-c', str(ROOT/'docs'), '-d', str(STAGE.parent/'doctrees'), str(STAGE), str(html)]
    subprocess.run(cmd + ['-q']*quiet, check=True)
    if out.exists() and any(out.iterdir()):
        if not (out/'searchindex.js').exists(): sys.exit(f'{out} exists and is not a site built here: not overwriting it.')
        shutil.rmtree(out)
    shutil.copytree(html, out, dirs_exist_ok=True)
    for name,p in pages.items(): (out/f'{name}.html.md').write_text(as_markdown(p))
    print(f'{len(pages)} pages in {out} ({t1-t0:.0f} s to run and process notebooks, {time.time()-t1:.0f} s to render)')
    for n,why in unrun.items(): print(f'{n} was not run: {why}')
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--force', action='store_true', help='run every notebook again, even when its executed copy is up to date')
    ap.add_argument('--out', default=str(SITE), help='folder for the site (default: _site)')
    a = ap.parse_args()
    build(Path(a.out), force=a.force)
