"""Finish the new project: drop what the answers did not choose, then start its git history.

Cookiecutter renders this file with Jinja and runs it inside the generated project. Each option
that removes files adds one entry to REMOVALS, so the template keeps a single tree and this
hook stays the only place that prunes it.
"""

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
# which must not carry a .git folder of their own, so git is left to the user there.
RENDERED_BY_CRUFT = bool(r"""{{ cookiecutter._commit | default('') }}""")
AUTHOR_NAME = r"""{{ cookiecutter.author_name }}"""
AUTHOR_EMAIL = r"""{{ cookiecutter.author_email }}"""

# (condition, paths relative to the project root to delete when it holds)
REMOVALS: list[tuple[bool, list[str]]] = [
    (LICENSE == "none", ["LICENSE"]),
    (not GITHUB_ACTIONS, [".github"]),
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


def main() -> None:
    root = Path.cwd()
    for condition, paths in REMOVALS:
        if condition:
            for relative in paths:
                remove(root / relative)
    if INIT_GIT and not RENDERED_BY_CRUFT:
        init_git(root)


if __name__ == "__main__":
    main()
