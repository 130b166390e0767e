"""hawkeye: reasoning-style image quality assessment from Python (docs/python.md).

    import hawkeye
    m = hawkeye.load_model("hawkeye-tiny")
    print(m.score("examples/parrots-pristine.png")[0]["score"])
"""
import os as _os

# libgomp reads its wait policy once, when it is loaded (include/hawkeye/core/openmp_wait.h): idle OpenMP
# workers that spin take the cores the working ones need on a shared machine. The `hawkeye` executable sets
# PASSIVE before loading torch; do the same here unless the user chose (no effect when numpy or torch was
# imported first: they load libgomp; then set OMP_WAIT_POLICY=PASSIVE in the environment).
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

from ._hawkeye import (  # noqa: E402
    Error,
    Metric,
    Model,
    __version__,
    correlate,
    create_metric,
    evaluate,
    list_metrics,
    list_models,
    load_model,
    set_log_level,
)

__all__ = [
    "Error",
    "Metric",
    "Model",
    "__version__",
    "correlate",
    "create_metric",
    "evaluate",
    "list_metrics",
    "list_models",
    "load_model",
    "set_log_level",
]
