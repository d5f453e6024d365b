"""bench/benchmark.py times a default bake end to end (tiny sizes; the timings themselves are not
tested), and `make bench` passes ARGS through to it."""

import json
import statistics
import sys
from pathlib import Path

import pytest

from tests.helpers import TEMPLATE_ROOT, Bake, assert_ok, run

PAUSED = "plain_train.py, GC paused at import"
MEASURES = ("wall time", "CPU time", "time to first step", "CPU to first step", "peak memory")
CASES = ("linear/regression", "cnn/digits, augmented")


@pytest.mark.slow
def test_benchmark_prints_one_table_and_writes_every_pair(bake: Bake, tmp_path: Path) -> None:
    project = bake()
    out = tmp_path / "bench.json"
    command = [sys.executable, TEMPLATE_ROOT / "bench" / "benchmark.py", "--project", project]
    command += ["--rounds", "2", "--epochs", "1", "--out", out]
    # table and serve: tests of their own
    command += ["--sections", "loader", "loop", "process", "peer", "gpu", "images"]
    command += ["--images", "200", "--image-batches", "1"]  # a tiny folder: 200 files, 1 batch
    result = run(command, cwd=tmp_path, timeout=600)
    assert_ok(result)
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] == report["machine"]["torch_threads"] == 1
    assert report["rounds"] == 2

    lines = result.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("section ")]
    assert len(headers) == 1, result.stdout  # one table
    header = lines[headers[0]]
    assert "ratio [min-max]" in header and "load" in header
    table = lines[headers[0] + 2 : headers[0] + 2 + len(report["rows"])]
    assert [line.split()[0] for line in table] == [row["section"] for row in report["rows"]]
    assert "1 thread(s)" in result.stdout and "load average" in result.stdout

    rows = {(row["section"], row["measure"], row["baseline_name"]): row for row in report["rows"]}
    assert len(rows) == len(report["rows"])  # no comparison twice
    sections = {"loader", "loop", "process", "peer", "gpu", "images"}
    assert {section for section, _, _ in rows} == sections
    measured = [row for row in report["rows"] if row["project"]]
    gpu_rows = 2 if report["machine"]["gpu"] else 0
    image_rows = 3 + 1 + 2  # loader, cnn, resnet18; decoding; first step and peak memory
    assert len(measured) == 2 + 2 + len(CASES) * 2 * len(MEASURES) + gpu_rows + image_rows
    for row, line in zip(report["rows"], table, strict=True):
        if not row["project"]:
            continue
        # every pair written, each side measured, each ratio taken pair by pair
        assert len(row["project"]) == len(row["baseline"]) == len(row["load"]) == 2
        assert min(row["project"] + row["baseline"]) > 0
        pairs = zip(row["project"], row["baseline"], strict=True)
        if row["unit"] == "samples/s":
            ratios = [baseline / project for project, baseline in pairs]
        else:
            ratios = [project / baseline for project, baseline in pairs]
        assert row["ratio_median"] == pytest.approx(statistics.median(ratios))
        assert (row["ratio_min"], row["ratio_max"]) == pytest.approx((min(ratios), max(ratios)))
        ratio = f"{row['ratio_median']:.2f} [{row['ratio_min']:.2f}-{row['ratio_max']:.2f}]"
        assert row["measure"] in line and ratio in line and line.endswith(row["baseline_name"])

    for case in CASES:
        name = f"{case}, 1 epoch"
        for baseline in ("plain_train.py", PAUSED):
            wall = rows[("process", f"{name}: wall time", baseline)]
            first = rows[("process", f"{name}: time to first step", baseline)]
            # The clocks were read in the processes: each side's first step comes before its exit.
            for side in ("project", "baseline"):
                assert all(f < w for f, w in zip(first[side], wall[side], strict=True))
        # The GC-paused plain script is a process of its own, not the plain run counted twice.
        plain_walls = rows[("process", f"{name}: wall time", "plain_train.py")]["baseline"]
        assert rows[("process", f"{name}: wall time", PAUSED)]["baseline"] != plain_walls

    images = {measure: baseline for section, measure, baseline in rows if section == "images"}
    plain = "torchvision ImageFolder + DataLoader"
    for what in ("loader alone", "training cnn", "training resnet18"):
        [name] = [m for m in images if m.startswith(f"{what}, 64 of 200 images")]
        assert images[name] == plain  # each against the plain torchvision loader
    assert images["data=images, cnn: 200 images: peak memory"] == "20 images"

    [peer] = [row for row in report["rows"] if row["section"] == "peer"]
    assert peer["note"] == "skipped: no --peer PATH" and not peer["project"]
    if not report["machine"]["gpu"]:
        [gpu] = [row for row in report["rows"] if row["section"] == "gpu"]
        assert gpu["note"].startswith("not measured")


@pytest.mark.slow
def test_the_table_section_runs_alone(bake: Bake, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, TEMPLATE_ROOT / "bench" / "benchmark.py", "--project", bake()]
    command += ["--sections", "table", "--table-rows", "3000", "--rounds", "1", "--out", out]
    result = run(command, cwd=tmp_path, timeout=600)
    assert_ok(result)
    rows = json.loads(out.read_text())["rows"]
    assert [(row["section"], row["unit"]) for row in rows] == [
        ("table", "samples/s"),
        ("table", "s"),
        ("table", "s"),
        ("table", "MiB"),
    ]
    assert all(len(row["project"]) == len(row["baseline"]) == 1 for row in rows)
    assert rows[0]["measure"] == "3,000 x 20 CSV: data=csv setup" and min(rows[0]["project"]) > 0
    assert rows[3]["baseline"] == [3000 * 20 * 4 / 2**20]  # the float32 values, in MiB
    assert all(row["measure"] in result.stdout for row in rows)


def test_make_bench_bakes_the_default_project_and_passes_args() -> None:
    args = "--rounds 5 --peer /checkouts/peer --peer-python /envs/peer/bin/python"
    result = run(["make", "-n", "bench", f"ARGS={args}"], cwd=TEMPLATE_ROOT)
    assert_ok(result)
    commands = result.stdout.splitlines()
    bake = commands.index("rm -rf build/bench") + 1
    assert commands[bake].endswith("cookiecutter --no-input . -o build/bench")
    assert commands[bake + 1].endswith(
        "python bench/benchmark.py --project build/bench/my-project"
        f" --out build/bench/benchmark.json {args}"
    )


@pytest.mark.slow
def test_benchmark_serve_section_alone(bake: Bake, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, TEMPLATE_ROOT / "bench" / "benchmark.py", "--project", bake()]
    command += ["--sections", "serve", "--rounds", "1", "--serve-requests", "64", "--out", out]
    result = run(command, cwd=tmp_path, timeout=600)
    assert_ok(result)
    rows = json.loads(out.read_text())["rows"]
    measures = [row["measure"].rpartition(": ")[2] for row in rows]
    assert measures == ["requests/s", "p50 latency", "p99 latency"] * 2
    assert [row["measure"].count("max_batch_size=16") for row in rows] == [0] * 3 + [1] * 3
    for row in rows:
        assert row["section"] == "serve" and row["baseline_name"].startswith("serve_anchor.py")
        assert len(row["project"]) == len(row["baseline"]) == 1
        assert min(row["project"] + row["baseline"]) > 0
        if row["unit"] == "requests/s":  # a rate: the ratio is of times, as for samples/s
            assert row["ratio_median"] == pytest.approx(row["baseline"][0] / row["project"][0])
    assert list(tmp_path.iterdir()) == [out]  # no client.py, no logs left behind
