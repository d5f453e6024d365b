"""Finish the new project: drop what the answers did not choose, lock it, start its git history.

Cookiecutter renders this file with Jinja and runs it inside the generated project. Each option
that removes files adds one entry to REMOVALS, so the template keeps a single tree and this
hook stays the only place that prunes it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path


def answer_is_yes(value: str) -> bool:
    """Boolean prompts render as True/False; typed answers may be yes/no."""
    return value.strip().lower() in ("true", "yes", "y", "1")


LICENSE = r"""{{ cookiecutter.license }}"""
GITHUB_ACTIONS = answer_is_yes(r"""{{ cookiecutter.github_actions }}""")
INIT_GIT = answer_is_yes(r"""{{ cookiecutter.init_git }}""")
# cruft records the template commit it renders from; its `update` diffs two throwaway renders,
# which must not carry a .git folder of their own (nor a uv.lock each resolved on its own day),
# so git and `uv lock` are left to the user there.
RENDERED_BY_CRUFT = bool(r"""{{ cookiecutter._commit | default('') }}""")
AUTHOR_NAME = r"""{{ cookiecutter.author_name }}"""
AUTHOR_EMAIL = r"""{{ cookiecutter.author_email }}"""

SEARCH = answer_is_yes(r"""{{ cookiecutter.search }}""")
CLUSTER = answer_is_yes(r"""{{ cookiecutter.cluster }}""")
EXPORT = answer_is_yes(r"""{{ cookiecutter.export }}""")
SERVE = answer_is_yes(r"""{{ cookiecutter.serve }}""")
IMAGES = answer_is_yes(r"""{{ cookiecutter.images }}""")
WANDB = answer_is_yes(r"""{{ cookiecutter.wandb }}""")
TENSORBOARD = answer_is_yes(r"""{{ cookiecutter.tensorboard }}""")
MLFLOW = answer_is_yes(r"""{{ cookiecutter.mlflow }}""")
PACKAGE = "src/{{ cookiecutter.package_name }}"

# (condition, paths relative to the project root to delete when it holds; glob patterns allowed).
# An optional capability is whole files and config groups, so leaving it out is deleting them.
REMOVALS: list[tuple[bool, list[str]]] = [
    (LICENSE == "none", ["LICENSE"]),
    (not GITHUB_ACTIONS, [".github"]),
    (
        not SEARCH,
        ["conf/hparams_search", "conf/hydra/sweeper", f"{PACKAGE}/search", "tests/test_search*.py"],
    ),
    (not CLUSTER, ["conf/hydra/launcher", "tests/test_launchers.py"]),
    (
        not EXPORT,
        [
            "export.py",
            "conf/export.yaml",
            f"{PACKAGE}/export.py",
            f"{PACKAGE}/cli/export.py",
            f"{PACKAGE}/config/export.py",
            "tests/test_export.py",
            "tests/test_export_recipes.py",
        ],
    ),
    (
        not SERVE,
        [
            "serve.py",
            "conf/serve.yaml",
            f"{PACKAGE}/serving.py",
            f"{PACKAGE}/cli/serve.py",
            f"{PACKAGE}/config/serve.py",
            "tests/test_serve*.py",
        ],
    ),
    (not SERVE or not EXPORT, ["tests/test_serve_export.py"]),
    (not SERVE or not IMAGES, ["tests/test_serve_images.py"]),
    (
        not IMAGES,
        [
            f"{PACKAGE}/data/folder.py",
            f"{PACKAGE}/data/mnist.py",
            f"{PACKAGE}/models/resnet.py",
            f"{PACKAGE}/callbacks/finetuning.py",
            "conf/data/images.yaml",
            "conf/data/mnist.yaml",
            "conf/model/resnet18.yaml",
            "conf/callbacks/backbone_finetuning.yaml",
            "tests/image_files.py",
            "tests/test_mnist.py",
            "tests/test_image_recipes.py",
            "tests/test_folder.py",
            "tests/test_resnet.py",
        ],
    ),
    (
        not WANDB,
        [
            f"{PACKAGE}/loggers/wandb_logger.py",
            "conf/logger/wandb.yaml",
            "tests/test_wandb.py",
            "tests/wandb_records.py",
        ],
    ),
    (
        not TENSORBOARD,
        [
            f"{PACKAGE}/loggers/tensorboard_logger.py",
            "conf/logger/tensorboard.yaml",
            "tests/test_tensorboard.py",
        ],
    ),
    (
        not MLFLOW,
        [f"{PACKAGE}/loggers/mlflow_logger.py", "conf/logger/mlflow.yaml", "tests/test_mlflow.py"],
    ),
]


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def git(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def init_git(root: Path) -> None:
    """`git init` and a first commit, so the first diff a user sees is their own change."""
    if shutil.which("git") is None:
        print("git not found: skipping `git init` (run it yourself later)", file=sys.stderr)
        return
    if (root / ".git").exists():
        return  # baked again over an existing project (-f): its history stays the user's
    identity: list[str] = []
    if git("config", "user.email", root=root).returncode != 0:  # no identity configured yet
        identity = ["-c", f"user.name={AUTHOR_NAME}", "-c", f"user.email={AUTHOR_EMAIL}"]
    steps = [
        ("init", ["init", "--quiet"]),
        ("add", ["add", "--all"]),
        ("commit", [*identity, "commit", "--quiet", "--no-verify", "-m", "Start from template"]),
    ]
    for name, args in steps:
        result = git(*args, root=root)
        if result.returncode != 0:
            # The project itself is complete; only its history is missing, so warn, don't fail.
            print(f"git {name} failed, project left without a commit:", file=sys.stderr)
            print((result.stdout + result.stderr).strip(), file=sys.stderr)
            return


def lock(root: Path) -> None:
    """`uv lock`: uv.lock pins every dependency for `uv sync --locked` (make install, CI).

    Without uv, offline, or with BAKE_WITHOUT_UV_LOCK set (the template's tests, which bake
    dozens of times) the project is complete all the same: one line says how to lock it later.
    """
    later = "no uv.lock yet: run `uv lock` in the project to make it"
    if os.environ.get("BAKE_WITHOUT_UV_LOCK"):
        return
    if shutil.which("uv") is None:
        print(f"uv not found (https://docs.astral.sh/uv/), {later}", file=sys.stderr)
        return
    try:
        result = subprocess.run(
            ["uv", "lock", "--quiet"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"`uv lock` timed out, {later} when online", file=sys.stderr)
        return
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no output"]
        reason = next((line for line in lines if line.startswith("error:")), lines[-1])
        print(f"`uv lock` failed ({reason}), {later}", file=sys.stderr)


def main() -> None:
    root = Path.cwd()
    for condition, patterns in REMOVALS:
        if condition:
            for pattern in patterns:
                for path in sorted(root.glob(pattern)):
                    remove(path)
    if RENDERED_BY_CRUFT:
        return
    lock(root)  # before git, so the first commit holds uv.lock
    if INIT_GIT:
        init_git(root)


if __name__ == "__main__":
    main()
