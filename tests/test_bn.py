"BatchNorm policies on real data: pretrained EfficientNet-Lite0 fine-tuned on scikit-learn's handwritten digits."
from fastai_ft.callback.bn import BNPolicyCallback, bn_gap, bn_advice
import fastai_ft.models as models

def _frozen_fit(policy, path):
    "One frozen epoch of Lite0 on digits with `policy`; the gap on training items and the validation accuracy"
    learn = models.lite0_learner(models.folder_dls(path, size=48, bs=64, seed=0))
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, 1e-3, cbs=BNPolicyCallback(policy))
        return bn_gap(learn), float(learn.validate()[1])

def test_frozen_bn_statistics_fix_digits(tmp_path):
    "fastai's defaults leave a BatchNorm gap that `bn_advice` reports; keeping frozen statistics removes it"
    path = models.digits_folder(tmp_path/'digits')
    (gap_def, acc_def), (gap_frz, acc_frz) = _frozen_fit('train', path), _frozen_fit('freeze', path)
    print(gap_def, acc_def, gap_frz, acc_frz)
    assert bn_advice(gap_def) is not None, gap_def
    assert bn_advice(gap_frz) is None, gap_frz
    assert acc_frz > acc_def + 0.3, (acc_def, acc_frz)
