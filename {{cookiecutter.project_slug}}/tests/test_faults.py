"""Faults done to real runs: a NaN loss, SIGKILL and SIGTERM in the middle of training, a
requeued job, a disk that fills up."""

import csv
import hashlib
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import open_dict

from {{ cookiecutter.package_name }}.errors import TrainingDiverged
from {{ cookiecutter.package_name }}.training import train

from .conftest import PROJECT_ROOT

# Long enough never to finish by itself; the test stops it.
ENDLESS = ("trainer.max_epochs=100000", "callbacks.early_stopping=null", "logger=csv")


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(make_config, tmp_path):
    cfg = make_config("logger=none")
    with open_dict(cfg):  # epoch 0 trains at lr 0.1, then lr x 10^4 every epoch: divergence
        cfg.model.scheduler = {
            "_target_": "torch.optim.lr_scheduler.ExponentialLR",
            "_partial_": True,
            "gamma": 1e4,
        }
    with pytest.raises(TrainingDiverged, match="the training loss became (nan|inf)") as caught:
        train(cfg)
    assert "a lower model.optimizer.lr" in str(caught.value)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert str(tmp_path / "checkpoints" / "last.ckpt") in str(caught.value)
    assert last["epoch"] < int(str(caught.value).split("at epoch ")[1].split(",")[0])
    weights = [t for name, t in last["state_dict"].items() if name.startswith("net.")]
    assert weights and all(torch.isfinite(tensor).all() for tensor in weights)
    assert not (tmp_path / "metrics.json").exists()  # the run does not look complete


def test_a_run_that_ends_with_a_non_finite_metric_fails(make_config) -> None:
    # Without the NaN-loss guard (callbacks=model_checkpoint), lr 1.3 takes val/loss to inf.
    cfg = make_config(
        "callbacks=model_checkpoint", "model.optimizer.lr=1.3", "trainer.max_epochs=3"
    )
    with pytest.raises(TrainingDiverged, match="val/loss is inf at the end of training") as caught:
        train(cfg)
    assert "the run diverged. Best checkpoint: " in str(caught.value)
    assert "best-epoch000.ckpt" in str(caught.value)


def start_training(cwd: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "train.py"), *ENDLESS, *overrides],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_epochs(
    run_root: Path, epochs: int, timeout: float = 120, runs: str = "logs/runs/*"
) -> Path:
    """The run's last.ckpt once it holds at least `epochs` finished epochs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in run_root.glob(f"{runs}/checkpoints/last.ckpt"):
            try:
                if torch.load(path, weights_only=True)["epoch"] >= epochs - 1:
                    return path
            except Exception:  # being written right now: look again
                pass
        time.sleep(0.2)
    raise TimeoutError(f"no checkpoint with {epochs} epochs under {run_root}")


def resume(cwd: Path, max_epochs: int) -> tuple[subprocess.CompletedProcess, Path]:
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "train.py"),
            "ckpt_path=last",
            f"trainer.max_epochs={max_epochs}",
            "callbacks.early_stopping=null",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    newest = sorted((cwd / "logs" / "runs").iterdir())[-1]
    return result, newest


def first_epoch_logged(run_dir: Path) -> int:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return min(int(row["epoch"]) for row in csv.DictReader(file) if row.get("epoch"))


@pytest.mark.slow
def test_sigkill_loses_only_the_work_since_the_last_checkpoint(tmp_path: Path) -> None:
    process = start_training(tmp_path)
    wait_for_epochs(tmp_path, 3)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    [killed_run] = (tmp_path / "logs" / "runs").iterdir()
    assert not (killed_run / "metrics.json").exists()  # killed: not a complete run
    saved_epoch = torch.load(killed_run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    result, resumed_run = resume(tmp_path, saved_epoch + 3)
    assert f"Resuming from {killed_run / 'checkpoints' / 'last.ckpt'}" in result.stdout
    # It carries on right after the saved epoch: nothing before the checkpoint is redone.
    assert first_epoch_logged(resumed_run) == saved_epoch + 1
    assert (resumed_run / "metrics.json").is_file()


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path: Path) -> None:
    process = start_training(tmp_path)
    epoch_end = wait_for_epochs(tmp_path, 2)
    step_before = torch.load(epoch_end, weights_only=True)["global_step"]
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "Received SIGTERM: saved" in output and "Traceback" not in output
    saved = torch.load(epoch_end, weights_only=True)
    assert saved["global_step"] > step_before  # saved at the signal, not an old epoch end
    result, resumed_run = resume(tmp_path, saved["epoch"] + 2)
    assert "Restoring states from the checkpoint path" in result.stdout + result.stderr
    assert (resumed_run / "metrics.json").is_file()


def press_ctrl_c_in_epoch(cwd: Path, epoch: int, command: list[str]) -> subprocess.CompletedProcess:
    """Runs `command` and sends it SIGINT, as Ctrl-C does, once `epoch` is under way."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell starts its background jobs with SIGINT ignored; a terminal's have it on.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_epochs(cwd, epoch)  # epochs 0..epoch-1 are saved: epoch runs now
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


# Callbacks that hold a run, for a while, at a moment outside training: Hydra's, as the job
# starts (nothing is built yet), and Lightning's, as the test split starts after training.
# hydra_plugins.* is among the targets a config may build.
HOLD = """
import os, time
from pathlib import Path
import lightning as L
from hydra.experimental.callback import Callback

def hold():
    Path(os.environ["HELD"]).touch()
    time.sleep(120)

class AtJobStart(Callback):
    def on_job_start(self, config, **kwargs):
        hold()

class AtTestStart(L.Callback):
    def on_test_start(self, trainer, pl_module):
        hold()
"""
HOLDS = {
    "before_training": "+hydra.callbacks.hold._target_=hydra_plugins.hold.AtJobStart",
    "while_testing": "+callbacks.hold._target_=hydra_plugins.hold.AtTestStart",
}


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(HOLDS))
def test_ctrl_c_elsewhere_is_one_line_and_status_130(tmp_path: Path, moment: str) -> None:
    (tmp_path / "hydra_plugins").mkdir()
    (tmp_path / "hydra_plugins" / "hold.py").write_text(HOLD)
    held = tmp_path / "held"
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "train.py"), "trainer.max_epochs=1", HOLDS[moment]],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(tmp_path), "HELD": str(held)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not held.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["Interrupted"]


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume_and_the_command_resumes(tmp_path: Path) -> None:
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), *ENDLESS]
    stopped = press_ctrl_c_in_epoch(tmp_path, 2, command)
    assert stopped.returncode == 130, stopped.stderr
    [run_dir] = (tmp_path / "logs" / "runs").iterdir()
    checkpoint = (run_dir / "checkpoints" / "last.ckpt").resolve()
    epoch = torch.load(checkpoint, weights_only=True)["epoch"]
    resume = shlex.join([*command, f"ckpt_path={checkpoint}"])
    assert stopped.stderr.splitlines() == [
        f"Interrupted; the last checkpoint, from the end of epoch {epoch}, is {checkpoint}."
        f" Resume with: {resume}"
    ]
    # Files a killed write left half-written: the resumed run's folder loses them, alone.
    partial = [
        checkpoint.parent / ".last.ckpt.0123abcd.tmp",
        run_dir / ".run_info.json.4567cdef.tmp",
    ]
    elsewhere = tmp_path / "other" / ".metrics.json.89abcdef.tmp"
    for path in [*partial, elsewhere]:
        path.parent.mkdir(exist_ok=True)
        path.write_text("half")
    again = press_ctrl_c_in_epoch(tmp_path, epoch + 3, shlex.split(resume))
    assert again.returncode == 130 and f"Resuming from {checkpoint}" in again.stdout, again.stderr
    resumed_run = sorted((tmp_path / "logs" / "runs").iterdir())[-1]
    assert first_epoch_logged(resumed_run) == epoch + 1
    assert not any(path.exists() for path in partial) and elsewhere.exists()


@pytest.mark.slow
def test_a_requeued_job_continues_where_it_stopped(tmp_path: Path) -> None:
    # What SLURM does to a preempted job: SIGTERM, then the same command in the same folder.
    command = [sys.executable, str(PROJECT_ROOT / "train.py"), f"hydra.run.dir={tmp_path / 'job'}"]
    command += ["trainer.max_epochs=40", "callbacks.early_stopping=null", "logger=csv"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    wait_for_epochs(tmp_path, 2, runs="job")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0 and "Received SIGTERM: saved" in output, output
    saved = torch.load(tmp_path / "job" / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    again = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "Restoring states from the checkpoint path" in again.stdout + again.stderr
    # metrics.csv holds every epoch once: those before the signal, then the continued ones.
    # A signal during validation leaves that epoch unscored: Lightning resumes with the next.
    with (tmp_path / "job" / "csv" / "metrics.csv").open() as file:
        epochs = [int(row["epoch"]) for row in csv.DictReader(file) if row["val/loss"]]
    assert 0 < saved < 40, saved
    assert epochs in (list(range(40)), [e for e in range(40) if e != saved]), (saved, epochs)
    assert (tmp_path / "job" / "metrics.json").is_file()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# An MLP whose checkpoints (~0.8 MB with AdamW's state) outgrow what is left on the disk.
BIG = ("model=mlp", "model.net.hidden_sizes=[256,256]", "logger=none", "test=false")
FILL_DISK = """
import os, sys
stat = os.statvfs(sys.argv[1])
with open(os.path.join(sys.argv[1], "filler"), "wb") as file:
    file.write(b"0" * (stat.f_bavail * stat.f_frsize - 200_000))  # leaves 200 kB
"""
# Inside a user namespace of its own: a 4 MB filesystem, a first run on it, the disk filled, a
# second run continuing the first's checkpoints on it; then what is left there.
ON_A_SMALL_DISK = """
set -e
mount -t tmpfs -o size=4m tmpfs "$DISK"
"$PYTHON" "$TRAIN" hydra.run.dir="$DISK/run" trainer.max_epochs=2 $BIG > /dev/null 2>&1
sha256sum "$DISK"/run/checkpoints/* > "$OUT/before"
"$PYTHON" -c "$FILL_DISK" "$DISK"
set +e
"$PYTHON" "$TRAIN" hydra.run.dir="$OUT/resumed" trainer.max_epochs=4 $BIG \
    ckpt_path="$DISK/run/checkpoints/last.ckpt" 2> "$OUT/stderr" > /dev/null
echo $? > "$OUT/code"
sha256sum "$DISK"/run/checkpoints/* > "$OUT/after"
ls -A "$DISK/run/checkpoints" > "$OUT/listing"
"""


def small_disk_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = ["unshare", "--user", "--map-root-user", "--mount", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.slow
def test_a_full_disk_leaves_the_previous_checkpoint_intact(tmp_path: Path) -> None:
    if small_disk_available():  # a real, small filesystem that fills up: ENOSPC
        (tmp_path / "disk").mkdir()
        env = os.environ | {
            "DISK": str(tmp_path / "disk"),
            "OUT": str(tmp_path),
            "PYTHON": sys.executable,
            "TRAIN": str(PROJECT_ROOT / "train.py"),
            "BIG": " ".join(BIG),
            "FILL_DISK": FILL_DISK,
        }
        namespace = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c"]
        done = subprocess.run([*namespace, ON_A_SMALL_DISK], env=env, timeout=600)
        assert done.returncode == 0
        before, after = (tmp_path / "before").read_text(), (tmp_path / "after").read_text()
        listing = (tmp_path / "listing").read_text().split()
        code, stderr = int((tmp_path / "code").read_text()), (tmp_path / "stderr").read_text()
        reason = "No space left on device"
    else:  # no user namespaces here: a limit on file sizes fails the write midway (EFBIG)
        run_dir = tmp_path / "run"
        first = [sys.executable, str(PROJECT_ROOT / "train.py"), f"hydra.run.dir={run_dir}"]
        subprocess.run([*first, "trainer.max_epochs=2", *BIG], cwd=tmp_path, check=True)
        checkpoints = sorted((run_dir / "checkpoints").iterdir())
        before = "".join(f"{sha256(path)}  {path}\n" for path in checkpoints)
        second = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "train.py"), f"hydra.run.dir={tmp_path / 'b'}"]
            + ["trainer.max_epochs=4", *BIG, f"ckpt_path={checkpoints[-1]}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000)),
        )
        checkpoints = sorted((run_dir / "checkpoints").iterdir())
        after = "".join(f"{sha256(path)}  {path}\n" for path in checkpoints)
        listing, code, stderr = [p.name for p in checkpoints], second.returncode, second.stderr
        reason = "File too large"
    assert after == before  # the checkpoints as they were
    assert sorted(listing) == sorted(Path(line.split()[1]).name for line in before.splitlines())
    assert code == 1 and "Traceback" not in stderr, stderr  # and no partial file was left
    [line] = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert "/run/checkpoints/" in line and f".ckpt: {reason}" in line, line
    assert "the files written before are intact" in line
