"""Which project code runs from `python train.py` up to `Trainer.fit`, file by file.

Usage:
    python scripts/trace_fit.py [PROJECT] [--json FILE] [--python PY] [-- OVERRIDE ...]

PROJECT is a baked project folder; without one, the default project is baked into a temporary
folder first. Its `python train.py` (the default config, plus any overrides after `--`) runs in
a child process under `sys.settrace`, from its source (`src/` first on the path), and stops the
moment Lightning's `Trainer.fit` is called. The project's code is run as it is: only the child's
own bootstrap, outside the project, sets up the tracer.

Printed: each project file that executed (relative to PROJECT; installed packages and hidden
folders such as .venv are not project files) with the number of its distinct code lines executed,
module-level lines run at import included, then the totals. Code lines as the project counts them
elsewhere: a docstring is not one (Python runs a module's or class's docstring as a statement),
so a module that only holds a docstring, such as a subpackage's `__init__.py`, does not count.
`--json FILE` also writes them, with the line numbers. The run folder the traced run made under
PROJECT/logs/runs is removed.
`--max-files N` / `--max-lines N` make the exit status 1 when the totals exceed them.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]

# Run by the child's interpreter as `python -c CHILD PROJECT RESULT SCRIPT [ARG ...]`. It
# traces every Python frame whose file lies in PROJECT (outside hidden folders and installed
# packages), counting line events, and ends the process at the call of Lightning's Trainer.fit.
CHILD = r"""
import json, os, runpy, sys, threading

project, result_file, script, *args = sys.argv[1:]
root = os.path.realpath(project)
fit_file = os.sep + os.path.join("lightning", "pytorch", "trainer", "trainer.py")
lines = {}  # project-relative path -> set of line numbers that ran
kinds = {}  # co_filename -> set of lines (a project file), "fit" (Lightning's trainer) or None


def kind(filename):
    path = os.path.realpath(filename)
    if path.endswith(fit_file):
        return "fit"
    if not path.startswith(root + os.sep) or not os.path.isfile(path):
        return None
    relative = os.path.relpath(path, root)
    parts = relative.split(os.sep)
    if any(p.startswith(".") or p in ("site-packages", "dist-packages") for p in parts[:-1]):
        return None
    return lines.setdefault(relative.replace(os.sep, "/"), set())


def write(reached):
    try:
        from hydra.core.hydra_config import HydraConfig

        output_dir = HydraConfig.get().runtime.output_dir
    except Exception:
        output_dir = None
    with open(result_file, "w") as f:
        json.dump(
            {
                "reached_fit": reached,
                "output_dir": output_dir,
                "lines": {path: sorted(numbers) for path, numbers in lines.items() if numbers},
            },
            f,
        )


def tracer(frame, event, arg):
    code = frame.f_code
    found = kinds.get(code.co_filename, 0)
    if found == 0:
        found = kinds[code.co_filename] = kind(code.co_filename)
    if found is None:
        return None
    if found == "fit":
        if getattr(code, "co_qualname", "Trainer.fit") == "Trainer.fit" and code.co_name == "fit":
            sys.settrace(None)
            threading.settrace(None)
            write(True)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        return None
    seen = found

    def local(frame, event, arg):
        if event == "line":
            seen.add(frame.f_lineno)
        return local

    return local


sys.argv = [script, *args]
sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python train.py` sets it
threading.settrace(tracer)
sys.settrace(tracer)
status = 0
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as stop:
    status = stop.code if isinstance(stop.code, int) else 1
finally:
    sys.settrace(None)
    threading.settrace(None)
    write(False)
sys.exit(status or 3)
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Count the project code lines `python train.py` runs before Trainer.fit.",
        usage="%(prog)s [PROJECT] [--json FILE] [--python PY] [-- OVERRIDE ...]",
    )
    parser.add_argument("project", nargs="?", type=Path, help="a baked project (default: bake one)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the counts here")
    parser.add_argument(
        "--python",
        type=Path,
        metavar="PY",
        help="the interpreter that runs the project (default: PROJECT/.venv/bin/python if there,"
        " else this one)",
    )
    parser.add_argument("--max-files", type=int, metavar="N", help="exit 1 above N files")
    parser.add_argument("--max-lines", type=int, metavar="N", help="exit 1 above N lines")
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.overrides = argv[split + 1 :]
    return args


def bake_default(into: Path) -> Path:
    """Bakes the template's default project into `into`; returns the project folder."""
    from cookiecutter.main import cookiecutter

    settings = {"replay_dir": str(into / "replay"), "cookiecutters_dir": str(into / "templates")}
    return Path(
        cookiecutter(
            str(TEMPLATE_ROOT), no_input=True, output_dir=str(into), default_config=settings
        )
    )


def trace(project: Path, python: Path, overrides: list[str]) -> dict:
    """Runs `python train.py OVERRIDES` in `project` under the tracer; returns what it found."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(
        [str(project / "src"), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.setdefault("WANDB_MODE", "offline")
    with tempfile.TemporaryDirectory() as scratch:
        result_file = Path(scratch) / "result.json"
        command = [str(python), "-c", CHILD, str(project), str(result_file), "train.py", *overrides]
        child = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, check=False
        )
        result = json.loads(result_file.read_text()) if result_file.is_file() else {}
    result["returncode"] = child.returncode
    result["output"] = child.stdout + child.stderr
    return result


def remove_run_folder(project: Path, output_dir: str | None, runs_before: set[Path]) -> None:
    """Deletes the run folder the traced run made, if it is a new one under logs/runs."""
    if not output_dir:
        return
    folder = (project / output_dir).resolve()
    runs = (project / "logs" / "runs").resolve()
    if folder.parent == runs and folder not in runs_before:
        shutil.rmtree(folder, ignore_errors=True)


def docstring_lines(path: Path) -> set[int]:
    """The line numbers of the docstrings of `path`'s module, classes and functions."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        documented = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        if isinstance(node, documented) and ast.get_docstring(node, clean=False) is not None:
            first = node.body[0]
            lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def code_lines(project: Path, lines: dict[str, list[int]]) -> dict[str, list[int]]:
    """`lines` without docstring lines; files left with none are dropped."""
    kept = {
        path: sorted(set(numbers) - docstring_lines(project / path))
        for path, numbers in lines.items()
    }
    return {path: numbers for path, numbers in kept.items() if numbers}


def report(project: Path, overrides: list[str], lines: dict[str, list[int]]) -> dict:
    counts = {path: len(numbers) for path, numbers in sorted(lines.items())}
    return {
        "project": str(project),
        "command": ["python", "train.py", *overrides],
        "files": counts,
        "total_files": len(counts),
        "total_lines": sum(counts.values()),
        "lines": dict(sorted(lines.items())),
    }


def print_report(summary: dict) -> None:
    command = " ".join(summary["command"])
    print(f"Project code executed from `{command}` to Trainer.fit in {summary['project']}:")
    print(f"{'lines':>7}  file  (code lines: no docstrings)")
    for path, count in summary["files"].items():
        print(f"{count:>7}  {path}")
    print(f"{summary['total_lines']:>7}  total lines in {summary['total_files']} files")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trace-fit-") as scratch:
        project = (args.project or bake_default(Path(scratch))).resolve()
        if not (project / "train.py").is_file():
            print(f"Error: {project} has no train.py; give a baked project folder", file=sys.stderr)
            return 1
        venv_python = project / ".venv" / "bin" / "python"
        python = args.python or (venv_python if venv_python.exists() else Path(sys.executable))
        runs = project / "logs" / "runs"
        runs_before = {p.resolve() for p in runs.iterdir()} if runs.is_dir() else set()
        result = trace(project, python, args.overrides)
        remove_run_folder(project, result.get("output_dir"), runs_before)
        lines = code_lines(project, result.get("lines", {}))  # while a baked project is here
    if not result.get("reached_fit"):
        print(result["output"][-6000:], file=sys.stderr)
        print(
            f"Error: the run ended (exit status {result['returncode']}) before Trainer.fit",
            file=sys.stderr,
        )
        return 1
    summary = report(project if args.project else Path(project.name), args.overrides, lines)
    print_report(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    over = [
        f"{summary[key]} {what} > {limit}"
        for key, what, limit in (
            ("total_files", "files", args.max_files),
            ("total_lines", "lines", args.max_lines),
        )
        if limit is not None and summary[key] > limit
    ]
    if over:
        print(f"Error: over the limit: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
