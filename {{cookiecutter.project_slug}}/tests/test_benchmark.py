"""scripts/benchmark.py runs end to end (tiny sizes; the timings themselves are not tested)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_benchmark_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, str(PROJECT_ROOT / "scripts" / "benchmark.py"), "--epochs", "1"]
    command += ["--batch-size", "64", "--regression-samples", "500", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    results, ratios = report["results"], report["ratios"]
    for name in ("project loader", "naive per-item loader", "raw tensor slicing"):
        assert results[name] > 0 and name in result.stdout
    for model in ("linear/regression", "cnn/digits"):
        assert results[f"{model}: plain loop"] > 0 and results[f"{model}: Lightning"] > 0
        assert f"{model}: overhead per step (us)" in results
    assert 0 < results["startup to first step (s)"] < 600
    assert set(ratios) == {
        "project loader speed / naive",
        "raw slicing speed / project loader",
        "linear: Lightning time / plain loop",
        "cnn: Lightning time / plain loop",
    }
