"The feature cache on real photos and the pretrained EfficientNet-Lite0: a cached frozen stage trains the head exactly as an uncached one."
from pathlib import Path
import pytest
import numpy as np
import torch
from torch import nn
from functools import partial
from fastai.vision.all import (DataBlock, ImageBlock, CategoryBlock, GrandparentSplitter, Resize, Normalize, Learner,
                               create_head, apply_init, get_image_files, parent_label, accuracy, set_seed)
from fastai_ft.core import Stage
import fastai_ft.learner  # adds Learner.staged_fine_tune
from fastai_ft.models import efficientnet_lite0, lite0_split, lite0_stats, folder_dls
import fastai_ft.cache as fc
from fastai_ft.callback.bn import BNPolicyCallback

from realdata import HYMENOPTERA as DATA, needs_hymenoptera
pytestmark = needs_hymenoptera

def _learner(size=64):
    "Lite0 on hymenoptera with deterministic transforms (squish) and no stochastic depth in the body"
    set_seed(0)
    dblock = DataBlock((ImageBlock, CategoryBlock), get_items=partial(get_image_files, folders=['train', 'val']),
                       get_y=parent_label, splitter=GrandparentSplitter(valid_name='val'),
                       item_tfms=Resize(size, method='squish'), batch_tfms=Normalize.from_stats(*lite0_stats))
    dls = dblock.dataloaders(DATA, bs=32, num_workers=0)
    head = create_head(1280, dls.c)
    apply_init(head, nn.init.kaiming_normal_)
    return Learner(dls, nn.Sequential(efficientnet_lite0(drop_connect_rate=0.), head), metrics=accuracy, splitter=lite0_split)

def _frozen_stage(cache):
    learn = _learner()
    set_seed(1)
    plan = [Stage('frozen', 1, 2, slice(2e-3), pct_start=0.99, bn='freeze')]
    with learn.no_bar(), learn.no_logging():
        learn.staged_fine_tune(1, plan=plan, cbs=fc.FeatureCacheCallback(verbose=False) if cache else None)
    return learn

def test_cached_frozen_stage_matches_uncached():
    ref,ours = _frozen_stage(False),_frozen_stage(True)
    for (k,a),b in zip(ref.model[1].state_dict().items(), ours.model[1].state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-4, rtol=1e-3), k
    h0,h1 = ref.stage_history,ours.stage_history
    assert np.allclose(h0.valid_loss, h1.valid_loss, atol=1e-4)
    assert h1.accuracy.iloc[-1] > 0.75, h1

def test_default_folder_dls_refuses_then_aug_off():
    dls = folder_dls(DATA, 32, bs=32, valid='val')   # fastai's Resize crops at random in training
    learn = Learner(dls, nn.Sequential(efficientnet_lite0(), create_head(1280, dls.c)), metrics=accuracy, splitter=lite0_split)
    learn.freeze()
    with learn.no_bar(), learn.no_logging():
        with pytest.raises(ValueError, match="aug='off'"): learn.cache_features().fit(1, cbs=BNPolicyCallback('freeze'))
        learn.cache_features(aug='off', verbose=False).fit(1, cbs=BNPolicyCallback('freeze'))
    assert learn.feature_cache.tdl.feats.shape == (1, len(dls.train_ds), 2560)
