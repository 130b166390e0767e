# The Python module without a model: metrics against `hawkeye metric`, correlate against `hawkeye correlate`,
# input checking and errors.
import json
import math

import numpy as np
import pytest
from PIL import Image

import hawkeye
from conftest import EXAMPLES, jsonl, run_cli

FR_METRICS = ["psnr", "psnr_luma", "ssim", "ms_ssim", "gmsd"]
NR_METRICS = {"niqe": "niqe", "brisque_opencv": "brisque_opencv"}  # Python name -> CLI name (the same)


def rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_list_metrics_names_and_brisque_is_not_pyiqas():
    metrics = {m["name"]: m for m in hawkeye.list_metrics()}
    assert set(metrics) == {"psnr", "psnr_luma", "ssim", "ms_ssim", "gmsd", "brisque_opencv", "niqe"}
    assert metrics["brisque_opencv"]["pyiqa"] is None
    assert "Not pyiqa's brisque" in metrics["brisque_opencv"]["description"]
    assert metrics["ssim"]["pyiqa"] == "ssim" and metrics["psnr_luma"]["pyiqa"] is None
    assert metrics["psnr"]["highest"] is None and metrics["psnr"]["unit"] == "dB"


def test_brisque_under_pyiqas_name_is_refused():
    with pytest.raises(hawkeye.Error) as e:
        hawkeye.create_metric("brisque")
    assert e.value.code == "not_found"
    assert "brisque_opencv" in str(e.value)


def test_lower_better_as_pyiqa():
    expected = {"psnr": False, "ssim": False, "ms_ssim": False, "gmsd": True, "niqe": True, "brisque_opencv": True}
    for name, lower in expected.items():
        assert hawkeye.create_metric(name).lower_better is lower, name


def test_names_are_case_insensitive():
    m = hawkeye.create_metric("MS_SSIM")
    assert m.name == "ms_ssim" and m.metric_mode == "FR"


@pytest.mark.parametrize("name", FR_METRICS)
def test_full_reference_metric_equals_cli(name):
    ref = EXAMPLES / "parrots-pristine.png"
    dists = sorted(EXAMPLES.glob("parrots-*-*.png"))
    cli = [r["score"] for r in jsonl(run_cli("metric", name, "--ref", ref, *dists)[1])]
    m = hawkeye.create_metric(name)
    from_paths = [m(d, ref) for d in dists]
    assert from_paths == cli  # the same code on the same pixels: bit for bit
    assert m([rgb(d) for d in dists], rgb(ref)) == cli  # arrays decoded by PIL
    assert m(np.stack([rgb(d) for d in dists]), ref=str(ref)) == cli  # an N x H x W x 3 batch
    assert m(Image.open(dists[0]), Image.open(ref)) == cli[0]


@pytest.mark.parametrize("name", sorted(NR_METRICS))
def test_no_reference_metric_equals_cli(name):
    images = sorted(EXAMPLES.glob("plane-*.png"))
    cli = [r["score"] for r in jsonl(run_cli("metric", NR_METRICS[name], *images)[1])]
    m = hawkeye.create_metric(name)
    assert m(images) == cli
    assert [m(rgb(p)) for p in images] == cli
    assert isinstance(m(images[0]), float)


def test_identical_images_give_infinite_psnr():
    a = rgb(EXAMPLES / "plane-pristine.png")
    assert math.isinf(hawkeye.create_metric("psnr")(a, a))


def test_reference_rules():
    a = rgb(EXAMPLES / "plane-pristine.png")
    with pytest.raises(hawkeye.Error, match="full-reference") as e:
        hawkeye.create_metric("ssim")(a)
    assert e.value.code == "invalid_argument"
    with pytest.raises(hawkeye.Error, match="no-reference"):
        hawkeye.create_metric("niqe")(a, a)
    with pytest.raises(hawkeye.Error, match="2 references"):
        hawkeye.create_metric("psnr")([a, a, a], [a, a])


def test_missing_file_is_not_found_with_the_cli_exit_status(tmp_path):
    missing = tmp_path / "missing.png"
    status, _, _ = run_cli("metric", "niqe", missing, check=False)
    with pytest.raises(hawkeye.Error) as e:
        hawkeye.create_metric("niqe")(missing)
    assert e.value.code == "not_found"
    assert str(missing) in str(e.value)
    assert e.value.exit_status == status != 0


@pytest.mark.parametrize("bad, what", [
    (np.zeros((64, 64, 3), np.float32), "dtype float32"),
    (np.zeros((64, 64), np.uint8), "shape 64x64"),
    (np.zeros((64, 64, 4), np.uint8), "shape 64x64x4"),
    (np.zeros((0, 64, 3), np.uint8), "empty"),
    (12, "int"),
])
def test_bad_inputs_are_invalid_argument(bad, what):
    with pytest.raises(hawkeye.Error, match=what) as e:
        hawkeye.create_metric("niqe")(bad)
    assert e.value.code == "invalid_argument" and e.value.exit_status != 0


def test_batches_only_where_a_batch_is_allowed():
    a = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(hawkeye.Error, match="shape 2x32x32x3"):
        hawkeye.create_metric("psnr")([a], a[0])


def test_unknown_metric():
    with pytest.raises(hawkeye.Error, match="known: psnr") as e:
        hawkeye.create_metric("vif")
    assert e.value.code == "not_found"


def test_correlate_equals_cli(tmp_path):
    rng = np.random.default_rng(7)
    gt = rng.uniform(1, 5, 40)
    pred = 2 / (1 + np.exp(-(gt - 3))) + rng.normal(0, 0.15, 40)
    (tmp_path / "pred.csv").write_text("name,score\n" + "".join(f"i{i},{v!r}\n" for i, v in enumerate(pred)))
    (tmp_path / "gt.csv").write_text("name,mos\n" + "".join(f"i{i},{v!r}\n" for i, v in enumerate(gt)))
    cli = json.loads(run_cli("correlate", "--pred", tmp_path / "pred.csv", "--gt", tmp_path / "gt.csv")[1])
    py = hawkeye.correlate(pred, gt)
    for key in ["n", "srcc", "plcc", "krcc", "rmse", "plcc_fitted", "rmse_fitted", "logistic"]:
        assert py[key] == cli[key], key
    assert 0.8 < py["srcc"] <= 1


def test_correlate_degenerate_and_wrong_lengths():
    r = hawkeye.correlate([1, 1, 1, 1], [1, 2, 3, 4])
    assert r["srcc"] is None and "srcc" in r["reasons"]
    with pytest.raises(hawkeye.Error) as e:
        hawkeye.correlate([1, 2, 3], [1, 2])
    assert e.value.code == "invalid_argument"


def test_list_models_and_unknown_model():
    assert "hawkeye-tiny" in hawkeye.list_models()
    with pytest.raises(hawkeye.Error, match="no-such-model") as e:
        hawkeye.load_model("no-such-model")
    assert e.value.code == "not_found"
