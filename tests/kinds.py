"""Tiny learners of every kind fastbook fine-tunes (chapters 1, 5, 6 and 10), built the book's way on generated data, for
tests of mechanics only: single-label, multi-label, point regression, segmentation, text, collaborative filtering, tabular.
Each builder takes a folder for its files and returns `(learner, fine_tune's arguments as fastbook passes them)`."""
from functools import partial
import numpy as np, pandas as pd, torch
from fastai.basics import set_seed

def _images(path, n, size=32, seed=0):
    "`n` random RGB images in `path`, returned as a list of files"
    from PIL import Image
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    fs = []
    for i in range(n):
        f = path/f'{i}.png'
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(f); fs.append(f)
    return fs

def single_label(path):
    "Chapter 1/5: vision_learner on image folders, `error_rate`"
    from fastai.vision.all import ImageDataLoaders, Resize, vision_learner, resnet18, error_rate
    rng = np.random.default_rng(0)
    for split in ('train', 'valid'):
        for c in ('a', 'b'): _images(path/split/c, 6, seed=int(rng.integers(1000)))
    dls = ImageDataLoaders.from_folder(path, item_tfms=Resize(32), bs=4, num_workers=0, device='cpu')
    set_seed(0)
    return vision_learner(dls, resnet18, pretrained=False, metrics=error_rate, path=path), (1,)

def multi_label(path):
    "Chapter 6: MultiCategoryBlock, `partial(accuracy_multi, thresh=0.2)`, BCE"
    from fastai.vision.all import DataBlock, ImageBlock, MultiCategoryBlock, ColReader, ColSplitter, Resize, vision_learner, resnet18, accuracy_multi
    fs = _images(path/'imgs', 16)
    labels = ['cat', 'dog', 'cat dog', 'car', 'dog car', 'cat car', 'car', 'dog']*2
    df = pd.DataFrame(dict(fname=[str(f) for f in fs], labels=labels, is_valid=[i >= 12 for i in range(16)]))
    db = DataBlock((ImageBlock, MultiCategoryBlock), get_x=ColReader('fname'), get_y=ColReader('labels', label_delim=' '),
                   splitter=ColSplitter(), item_tfms=Resize(32))
    dls = db.dataloaders(df, bs=4, num_workers=0, device='cpu')
    set_seed(0)
    return vision_learner(dls, resnet18, pretrained=False, metrics=partial(accuracy_multi, thresh=0.2), path=path), (1,)

def points(path):
    "Chapter 6: PointBlock (head centre), `y_range=(-1,1)`, MSE"
    from fastai.vision.all import DataBlock, ImageBlock, PointBlock, FuncSplitter, Resize, vision_learner, resnet18, tensor
    fs = _images(path/'imgs', 16)
    rng = np.random.default_rng(1)
    pts = {f.name: tensor(rng.uniform(4, 28, (1, 2))).float() for f in fs}
    db = DataBlock((ImageBlock, PointBlock), get_items=lambda p: fs, get_y=lambda f: pts[f.name],
                   splitter=FuncSplitter(lambda f: int(f.stem) >= 12), item_tfms=Resize(32))
    dls = db.dataloaders(path, bs=4, num_workers=0, device='cpu')
    set_seed(0)
    return vision_learner(dls, resnet18, pretrained=False, y_range=(-1, 1), path=path), (1,)

def segmentation(path):
    "Chapter 1: unet_learner on masks, `foreground_acc`"
    from PIL import Image
    from fastai.vision.all import SegmentationDataLoaders, unet_learner, resnet18, foreground_acc
    fs = _images(path/'imgs', 12, size=64)
    (path/'masks').mkdir()
    rng = np.random.default_rng(2)
    for f in fs: Image.fromarray(rng.integers(0, 3, (64, 64), dtype=np.uint8)).save(path/'masks'/f.name)
    dls = SegmentationDataLoaders.from_label_func(path, fs, lambda f: path/'masks'/f.name, codes=['void', 'a', 'b'],
                                                  valid_pct=0.25, seed=0, bs=3, num_workers=0, device='cpu')
    set_seed(0)
    return unet_learner(dls, resnet18, pretrained=False, metrics=foreground_acc, path=path), (1,)

def text(path):
    "Chapter 10: text_classifier_learner, `fine_tune(4, 1e-2)` (here 1 epoch)"
    from fastai.text.all import DataBlock, TextBlock, CategoryBlock, ColReader, ColSplitter, BaseTokenizer, text_classifier_learner, AWD_LSTM, accuracy
    rng = np.random.default_rng(0)
    pos, neg, filler = 'great fun lovely superb'.split(), 'dull boring awful weak'.split(), 'the film was and a story'.split()
    def sent(y):
        w = [*rng.choice(filler, 5), *rng.choice(pos if y else neg, 2)]; rng.shuffle(w); return ' '.join(w)
    ys = rng.integers(0, 2, 64)
    df = pd.DataFrame(dict(text=[sent(y) for y in ys], label=np.where(ys, 'pos', 'neg'), is_valid=np.arange(64) >= 48))
    blk = DataBlock(blocks=(TextBlock.from_df('text', tok=BaseTokenizer(), n_workers=0, min_freq=1), CategoryBlock),
                    get_x=ColReader('text'), get_y=ColReader('label'), splitter=ColSplitter())
    dls = blk.dataloaders(df, bs=16, num_workers=0, device='cpu')
    set_seed(0)
    return text_classifier_learner(dls, AWD_LSTM, pretrained=False, metrics=accuracy, path=path,
                                   config=dict(emb_sz=16, n_hid=32, n_layers=2)), (1, 1e-2)

def collab(path):
    "Chapter 1: collab_learner with `y_range=(0,5.5)`, `fine_tune(10)` (here 1 epoch)"
    from fastai.collab import CollabDataLoaders, collab_learner
    rng = np.random.default_rng(0)
    df = pd.DataFrame(dict(user=rng.integers(0, 20, 200), item=rng.integers(0, 15, 200), rating=rng.integers(1, 6, 200).astype(float)))
    dls = CollabDataLoaders.from_df(df, bs=32, seed=0, device='cpu')
    set_seed(0)
    return collab_learner(dls, n_factors=4, y_range=(0, 5.5), path=path), (1,)

def tabular(path):
    "Chapter 1: tabular_learner (fastbook fits it with fit_one_cycle; fine_tune runs too)"
    from fastai.tabular.all import TabularDataLoaders, tabular_learner, Categorify, Normalize, accuracy
    rng = np.random.default_rng(0)
    df = pd.DataFrame(dict(a=rng.normal(size=64), b=rng.choice(['x', 'y', 'z'], 64)))
    df['y'] = np.where(df.a > 0, 'hi', 'lo')
    dls = TabularDataLoaders.from_df(df, procs=[Categorify, Normalize], cat_names=['b'], cont_names=['a'], y_names='y',
                                     bs=16, valid_idx=list(range(48, 64)), device='cpu', num_workers=0)
    set_seed(0)
    return tabular_learner(dls, layers=[16, 8], metrics=accuracy, path=path), (1,)

KINDS = dict(single_label=single_label, multi_label=multi_label, points=points, segmentation=segmentation, text=text,
             collab=collab, tabular=tabular)
