"""Reject names that would produce a broken or confusing project, before any file is written.

Cookiecutter renders this file with Jinja, then runs it inside the new project folder; exiting
non-zero makes it delete that folder again, so a rejected bake leaves nothing behind.
"""

import keyword
import re
import sys

PROJECT_SLUG = r"""{{ cookiecutter.project_slug }}"""
PACKAGE_NAME = r"""{{ cookiecutter.package_name }}"""
DEFAULT_LOGGER = r"""{{ cookiecutter.default_logger }}"""
# Each tracker besides CSV is a yes/no answer of its own; the default logger must be one kept.
TRACKERS = {
    "wandb": r"""{{ cookiecutter.wandb }}""",
    "tensorboard": r"""{{ cookiecutter.tensorboard }}""",
    "mlflow": r"""{{ cookiecutter.mlflow }}""",
}

# Top-level modules the generated project imports (or users commonly add); a package with one of
# these names would be imported in their place.
IMPORTED = frozenset(
    {
        "torch",
        "torchvision",
        "lightning",
        "lightning_fabric",
        "pytorch_lightning",
        "torchmetrics",
        "hydra",
        "omegaconf",
        "rich",
        "numpy",
        "yaml",
        "pytest",
        "wandb",
        "mlflow",
        "tensorboard",
        "optuna",
        "optuna_integration",
        "dotenv",
        "sklearn",
        "pandas",
        "matplotlib",
        "PIL",
        "onnx",
        "onnxruntime",
        "onnxscript",
    }
)
# Folders and root scripts of the generated project: `python train.py` puts the project root on
# sys.path, where these names resolve before an installed package of the same name.
LAYOUT = frozenset(
    {"src", "conf", "scripts", "tests", "test", "train", "eval", "predict", "export", "serve"}
)

# Distributions the project installs: a project of the same name (after PEP 503 normalisation)
# would be taken for that dependency by pip, which then refuses or replaces one of them.
DEPENDENCIES = frozenset(
    {
        "torch",
        "torchvision",
        "lightning",
        "pytorch-lightning",
        "torchmetrics",
        "hydra-core",
        "omegaconf",
        "rich",
        "numpy",
        "python-dotenv",
        "pandas",
        "matplotlib",
        "pillow",
        "onnx",
        "onnxscript",
        "onnxruntime",
        "wandb",
        "tensorboard",
        "mlflow",
        "optuna",
        "optuna-integration",
        "optuna-dashboard",
        "sqlalchemy",
        "hydra-optuna-sweeper",
        "hydra-joblib-launcher",
        "hydra-submitit-launcher",
        "pytest",
        "ruff",
        "mypy",
    }
)

# PEP 508 distribution name; the slug is also the folder name, so no spaces or slashes.
DIST_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def package_problem(name: str) -> str | None:
    """Why `name` cannot be the import package, or None if it can."""
    if not (name.isascii() and name.isidentifier()):
        return "is not a valid Python identifier (ASCII letters, digits, '_'; no leading digit)"
    if keyword.iskeyword(name):
        return "is a Python keyword"
    if name != name.lower():
        return "is not lowercase (PEP 8 package names are lowercase)"
    if name in IMPORTED:
        return f"would shadow the '{name}' module the project imports"
    if name in sys.stdlib_module_names:
        return f"would shadow the standard-library module '{name}'"
    if name in LAYOUT:
        return "is reserved for the project's own folders and scripts (src/, train.py, ...)"
    return None


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot be the folder and distribution name, or None if it can."""
    if not DIST_NAME.match(slug):
        return (
            "is not a valid distribution name (letters, digits, '.', '_', '-'; "
            "must start and end with a letter or digit)"
        )
    normalized = re.sub(r"[-_.]+", "-", slug).lower()
    if normalized in DEPENDENCIES:
        return f"is the name of the '{normalized}' package the project depends on"
    return None


def suggest_package(name: str) -> str:
    """A valid package name close to `name`, for the error message."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    for candidate in (base, f"my_{base}_project"):
        if candidate and package_problem(candidate) is None:
            return candidate
    return "my_project"


def suggest_slug(slug: str) -> str:
    """A valid distribution name close to `slug`, for the error message."""
    base = re.sub(r"[^a-z0-9._-]+", "-", slug.lower()).strip("._-")
    for candidate in (base, f"my-{base}-project"):
        if candidate.strip("-") and slug_problem(candidate) is None:
            return candidate
    return "my-project"


def answer_is_yes(value: str) -> bool:
    """Boolean prompts render as True/False; typed answers may be yes/no."""
    return value.strip().lower() in ("true", "yes", "y", "1")


def logger_problem(default: str, trackers: dict[str, str]) -> str | None:
    """Why `default` cannot be the default logger with these trackers kept, or None if it can."""
    if default == "csv" or answer_is_yes(trackers.get(default, "no")):
        return None
    kept = ["csv", *(name for name, answer in trackers.items() if answer_is_yes(answer))]
    return (
        f"default_logger {default!r} is a tracker this project leaves out ({default}=no);"
        f" answer {default}=yes, or choose one of: {', '.join(kept)}"
    )


def main() -> None:
    if problem := logger_problem(DEFAULT_LOGGER, TRACKERS):
        print(f"ERROR: {problem}", file=sys.stderr)
        sys.exit(1)
    # The slug first: an invalid slug usually also yields an invalid derived package name, and
    # fixing the slug fixes both.
    if problem := slug_problem(PROJECT_SLUG):
        fix = f"project_slug={suggest_slug(PROJECT_SLUG)}"
        message = f"project_slug {PROJECT_SLUG!r} {problem}"
    elif problem := package_problem(PACKAGE_NAME):
        fix = f"package_name={suggest_package(PACKAGE_NAME)}"
        message = f"package_name {PACKAGE_NAME!r} {problem}"
    else:
        return
    print(f"ERROR: {message}; choose another name, e.g. {fix}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
