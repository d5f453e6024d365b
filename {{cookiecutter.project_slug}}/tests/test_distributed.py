"""DDP for real: 2 CPU processes (gloo) via Lightning, and 2 "nodes" via torchrun on loopback."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.evaluation import evaluate

from .conftest import PROJECT_ROOT, compose_config

pytestmark = pytest.mark.slow

SMALL = ("debug=limit", "callbacks=model_checkpoint")  # debug runs go to logs/debug/


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def the_only_run_dir(cwd: Path) -> Path:
    [run_dir] = (cwd / "logs" / "debug").iterdir()  # one directory, not one per process
    return run_dir


def assert_complete_and_written_once(run_dir: Path, world: str) -> None:
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "metrics.json").is_file() and (run_dir / "run_info.json").is_file()
    assert sorted(p.name for p in run_dir.glob("*.log")) == ["train.log"]  # rank 0's log only
    assert world in (run_dir / "train.log").read_text()


def test_ddp_sim_trains_checkpoints_and_tests_in_one_run_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "train.py"), "trainer=ddp_sim", *SMALL],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in output and "distributed_backend=gloo" in output
    run_dir = the_only_run_dir(tmp_path)
    assert_complete_and_written_once(run_dir, "1 node(s) x 2 device(s): world size 2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # nothing outside the run
    # Synced test metrics over the two shards equal one process testing the same checkpoint.
    ddp_metrics = json.loads((run_dir / "metrics.json").read_text())
    [best] = (run_dir / "checkpoints").glob("best-*.ckpt")
    single = evaluate(compose_config(tmp_path / "single", f"ckpt_path={best}"))
    for name in ("test/mse", "test/r2", "test/loss"):
        assert ddp_metrics[name] == pytest.approx(single[name], rel=1e-5), name


def test_two_nodes_with_torchrun_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    launchers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--node-rank",
                str(node_rank),
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                str(port),
                str(PROJECT_ROOT / "train.py"),
                "trainer=multinode",
                "trainer.accelerator=cpu",
                *SMALL,
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node_rank in (0, 1)
    ]
    outputs = [launcher.communicate(timeout=300)[0] for launcher in launchers]
    for launcher, output in zip(launchers, outputs, strict=True):
        assert launcher.returncode == 0, output
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in outputs[1]
    run_dir = the_only_run_dir(tmp_path)
    assert_complete_and_written_once(run_dir, "2 node(s) x 1 device(s): world size 2")
