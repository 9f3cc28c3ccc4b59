"""Real-data checks: the pretrained EfficientNet-Lite0 on hymenoptera (ants vs bees).

hymenoptera lives outside the package (tests/realdata.py: `FASTAI_FT_HYMENOPTERA`, default `../shared/data/hymenoptera`
beside the checkout); the tests that need it skip when it is missing, and pytest's summary names them. The `fastai-ft demo` command (scikit-learn's bundled digits) is checked in `test_fresh_install.py`, as a new
user runs it."""
from pathlib import Path
import pytest, torch

from realdata import HYMENOPTERA, needs_hymenoptera

from fastai.vision.all import get_image_files
from PIL import Image
import torchvision.transforms as T
from fastai_ft.models import lite0_stats, folder_dls, lite0_learner, _lite0_imagenet
import fastai_ft.learner  # adds Learner.staged_fine_tune

ANT,BEE = 310,309  # ImageNet class indices

@needs_hymenoptera
def test_imagenet_weights_know_ants_and_bees():
    "The shipped ImageNet weights with `lite0_stats` put 'ant'/'bee' in the top 5 for most validation photos"
    m = _lite0_imagenet().eval()
    tfm = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(*lite0_stats)])
    for cls,idx in (('ants',ANT),('bees',BEE)):
        fs = sorted(get_image_files(HYMENOPTERA/'val'/cls))[:20]
        x = torch.stack([tfm(Image.open(f).convert('RGB')) for f in fs])
        with torch.no_grad(): top5 = m(x).topk(5).indices
        assert (top5==idx).any(1).float().mean() >= 0.75, f"ImageNet top-5 misses '{cls}' too often"

@needs_hymenoptera
def test_hymenoptera_staged_fine_tune(tmp_path):
    "Pretrained EfficientNet-Lite0, 160 px with augmentation: a short `staged_fine_tune` reaches 90% validation accuracy"
    dls = folder_dls(HYMENOPTERA, size=160, bs=64, aug=True, seed=0)
    learn = lite0_learner(dls, path=tmp_path)  # anything the run saves goes to tmp, not the shared data folder
    with learn.no_bar(), learn.no_logging():
        learn.staged_fine_tune(3)
        acc = learn.validate()[1]
    print(f"hymenoptera, staged_fine_tune(3), seed 0: accuracy {acc:.4f}")
    # measured on one CPU thread: 0.9085 (seed 0), 0.9216 (seed 1), 0.8889 (seed 2); seed 0 clears 0.90 by two images
    assert acc >= 0.90, f"validation accuracy {acc:.4f} < 0.90"
