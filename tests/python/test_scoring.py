# Model.score and hawkeye.evaluate with the shipped model: the same records as `hawkeye score`, numpy and PIL
# input as the files they were decoded from, errors, two threads, and the report of `hawkeye eval`.
import json
import threading
import time

import numpy as np
import pytest
from PIL import Image

import hawkeye
from conftest import EXAMPLES, jsonl, run_cli

RECORD_FIELDS = ["score", "range", "direction", "reasoning", "status", "tokens"]


@pytest.fixture(scope="module")
def model():
    return hawkeye.load_model("hawkeye-tiny")


@pytest.fixture(scope="module")
def cli_records():
    """`hawkeye score examples/` (greedy), without its run record."""
    records = jsonl(run_cli("score", "examples/", "--format", "jsonl")[1])
    assert "hawkeye_score" in records[0]
    return records[1:]


def rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_score_equals_the_cli_record_for_record(model, cli_records):
    py = model.score("examples/")
    assert len(py) == len(cli_records) == 8
    assert py == cli_records  # every field: path, score (bit for bit), range, direction, reasoning, status, tokens
    assert all(r["status"] == "ok" and 1 <= r["score"] <= 5 and r["reasoning"] for r in py)


def test_arrays_and_pil_images_score_as_their_files(model, cli_records):
    by_path = {r["path"]: r for r in cli_records}
    paths = sorted(EXAMPLES.glob("*.png"))
    arrays = [rgb(p) for p in paths]
    from_arrays = model.score(arrays)
    from_batch = model.score(np.stack(arrays[:3]))  # N x H x W x 3
    from_pil = model.score(Image.open(paths[0]))
    for p, r in zip(paths, from_arrays):
        expected = by_path["examples/" + p.name]
        assert r["path"] is None
        assert {k: r[k] for k in RECORD_FIELDS} == {k: expected[k] for k in RECORD_FIELDS}, p.name
    assert from_batch == from_arrays[:3]
    assert from_pil == from_arrays[:1]


def test_a_list_of_paths_and_mixed_input(model, cli_records):
    paths = [str(EXAMPLES / "plane-darken-4.png"), EXAMPLES / "parrots-jpeg-5.png"]
    mixed = model.score([paths[0], rgb(paths[1])], reasoning=False)
    assert "reasoning" not in mixed[0]
    by_name = {r["path"].split("/")[-1]: r for r in cli_records}
    assert mixed[0]["score"] == by_name["plane-darken-4.png"]["score"]
    assert mixed[1]["score"] == by_name["parrots-jpeg-5.png"]["score"]
    assert mixed[0]["path"] == paths[0] and mixed[1]["path"] is None


def test_samples_give_mean_and_spread_and_repeat(model):
    a = model.score(EXAMPLES / "parrots-white-noise-3.png", samples=4, seed=3)
    b = model.score([EXAMPLES / "parrots-white-noise-3.png", EXAMPLES / "plane-pristine.png"], samples=4, seed=3)
    r = a[0]
    assert len(r["samples"]) == 4 and r["parsed"] >= 1 and r["mean"] == r["score"]
    assert b[0] == r  # an image's samples do not depend on its batch


def test_missing_file_raises_not_found_or_is_a_record(model, tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(hawkeye.Error) as e:
        model.score([EXAMPLES / "plane-pristine.png", missing])
    assert e.value.code == "not_found" and str(missing) in str(e.value)
    # errors="record": the CLI's records, one load_error among scored images
    records = model.score([missing, EXAMPLES / "plane-pristine.png"], errors="record")
    status, out, _ = run_cli("score", missing, "examples/plane-pristine.png", "--format", "jsonl", check=False)
    cli = jsonl(out)[1:]
    assert status == 12
    assert records[0] == cli[0] and records[0]["status"] == "load_error" and records[0]["score"] is None
    assert records[1]["score"] == cli[1]["score"]


def test_a_file_that_is_not_an_image(model, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(hawkeye.Error) as e:
        model.score(bad)
    assert e.value.code == "corrupt_data"


@pytest.mark.parametrize("bad, code, what", [
    (np.zeros((64, 64, 3), np.float64), "invalid_argument", "dtype float64"),
    (np.zeros((64, 64), np.uint8), "invalid_argument", "shape 64x64"),
    (np.zeros((1, 2, 64, 64, 3), np.uint8), "invalid_argument", "shape 1x2x64x64x3"),
    (np.zeros((8, 4000, 3), np.uint8), "limit_exceeded", "more elongated"),
    ({"image": 1}, "invalid_argument", "dict"),
    ([], "invalid_argument", "no images"),
])
def test_bad_input_raises(model, bad, code, what):
    with pytest.raises(hawkeye.Error, match=what) as e:
        model.score(bad)
    assert e.value.code == code


def test_bad_options_raise(model):
    for kwargs in [{"samples": -1}, {"batch_size": 0}, {"errors": "ignore"}, {"readout": "mean"},
                   {"readout": "expected", "samples": 4}]:
        with pytest.raises(hawkeye.Error) as e:
            model.score(EXAMPLES / "plane-pristine.png", **kwargs)
        assert e.value.code == "invalid_argument", kwargs


def test_expected_readout_equals_the_cli():
    # A continuous value whose last digits depend on the thread count (the order of some sums), and both sides
    # follow the machine's load by default: fix the count on both (docs/python.md, docs/cli.md).
    fixed = hawkeye.load_model("hawkeye-tiny", threads=2)
    cli = jsonl(run_cli("score", "examples/", "--format", "jsonl", "--readout", "expected", "--threads", "2")[1])[1:]
    py = fixed.score("examples/", readout="expected")
    assert py == cli
    assert all(r["status"] == "ok" and 1 <= r["score"] <= 5 and 1 <= r["answer"] <= 5 for r in py)


def test_two_threads_score_at_once(model, cli_records):
    results, failures = {}, []

    def work(name):
        try:
            results[name] = model.score("examples/", batch_size=3)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert results["a"] == results["b"] == cli_records


def test_the_gil_is_released_while_scoring(model):
    inside = threading.Event()
    done = threading.Event()
    call = {}

    def work():
        inside.set()
        t0 = time.monotonic()
        model.score([EXAMPLES / "parrots-pristine.png"] * 20, batch_size=1)
        call["seconds"] = time.monotonic() - t0
        done.set()

    t = threading.Thread(target=work)
    t.start()
    inside.wait()
    # Python code runs here while the other thread scores: with the GIL held by the scoring call it could run
    # only before and after it (and between its calls, one switch interval, 5 ms), never for most of its span.
    # Relative to the call's own duration, so a fast or a busy machine does not change the verdict.
    first = last = None
    while not done.is_set():
        now = time.monotonic()
        first = first or now
        last = now
        time.sleep(0.001)
    t.join()
    assert first is not None and last - first > 0.5 * call["seconds"], (last - first if first else None, call)


def test_evaluate_equals_the_cli_report(model, tmp_path):
    labels = {"pristine": 4.6, "gaussian-blur-4": 1.87, "jpeg-5": 1.35, "white-noise-3": 3.05, "motion-blur-2": 4.10,
              "darken-4": 3.53, "quantization-3": 3.69}
    lines = [json.dumps({"hawkeye_manifest": 1, "form": "nr", "score_field": "mos", "score_range": [1, 5],
                         "higher_better": True})]
    for p in sorted(EXAMPLES.glob("*.png")):
        lines.append(json.dumps({"image": str(p), "mos": labels[p.stem.split("-", 1)[1]]}))
    manifest = tmp_path / "examples.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    report = hawkeye.evaluate(model, manifest, out=tmp_path / "py")
    _, out, _ = run_cli("eval", "--data", manifest, "--out", tmp_path / "cli", "--json")
    cli = json.loads(out)
    for key in ["srcc", "plcc", "krcc", "rmse", "plcc_fitted", "rmse_fitted", "parse_failures", "load_failures"]:
        assert report[key] == cli[key], key
    assert report["model"] == cli["model"] and report["n"] == 8 and report["complete"] is True
    assert (tmp_path / "py" / "report.json").is_file() and (tmp_path / "py" / "scatter.png").is_file()
    with pytest.raises(hawkeye.Error, match="predictions.jsonl") as e:
        hawkeye.evaluate(model, manifest, out=tmp_path / "py")  # a second run into the same folder
    assert e.value.code == "invalid_argument"
    assert hawkeye.evaluate(model, manifest)["srcc"] == cli["srcc"]  # no folder: the report only
