"""The project uses only the public API of its dependencies, so their updates do not break it.

Scanned: every .py file of the package, scripts/ and the root scripts. A violation is
1. importing another package's private module or name (`from x._impl import y`, `import a._b`,
   `from x import _y`); the project's own modules and names are fine;
2. reading or setting `obj._attr` on anything but `self` or `cls` (`cfg._get_node(key)`);
3. in a class that extends another package's class, defining or using (`self._x`) a `_name`
   that class defines or sets: overriding or reaching into its private parts;
4. walking frames: `tb_frame`, `tb_next`, `f_locals`, ...
Names like `__name__` and Hydra's `_target_`, which start and end with `_`, are public.
"""

import ast
import builtins
import contextlib
import functools
import importlib.util
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }} as own_package

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = own_package.__name__
FILES = [
    *sorted((ROOT / "src" / PACKAGE).rglob("*.py")),
    *sorted((ROOT / "scripts").glob("*.py")),
    *sorted(ROOT.glob("*.py")),
]
FRAME_ATTRIBUTES = {"tb_frame", "tb_next", "f_back", "f_locals", "f_globals", "currentframe"}


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("_")


def is_own(module: str) -> bool:
    return module.split(".")[0] == PACKAGE


@functools.cache
def privates_of(base: type) -> frozenset[str]:
    """The `_names` that the classes of other packages among `base` and its bases define, or
    set on `self` in their code."""
    names: set[str] = set()
    for cls in inspect.getmro(base):
        if is_own(cls.__module__):
            continue
        names.update(vars(cls))
        with contextlib.suppress(OSError, TypeError):  # built in: no source
            names.update(re.findall(r"\bself\.(_\w+)", inspect.getsource(cls)))
    return frozenset(filter(is_private, names))


def inherited_privates(
    cls: ast.ClassDef, classes: dict[str, ast.ClassDef], imported: dict[str, str]
) -> set[str]:
    """The private names `cls` gets from other packages' classes, through its bases."""
    names: set[str] = set()
    for base in cls.bases:
        base = base.value if isinstance(base, ast.Subscript) else base  # Generic[T]
        head, _, rest = ast.unparse(base).partition(".")
        if head in classes and not rest:  # a class of the same file
            names |= inherited_privates(classes[head], classes, imported)
        elif head in imported:
            dotted = f"{imported[head]}.{rest}" if rest else imported[head]
            names |= privates_of(pkgutil.resolve_name(dotted))
        elif not hasattr(builtins, head):
            raise AssertionError(f"cannot tell where the base class {ast.unparse(base)} is from")
    return names


def own_nodes(cls: ast.ClassDef) -> Iterator[ast.AST]:
    """The nodes in the body of `cls`, without those of the classes defined inside it."""
    todo: list[ast.AST] = [node for node in cls.body if not isinstance(node, ast.ClassDef)]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(n for n in ast.iter_child_nodes(node) if not isinstance(n, ast.ClassDef))


def scan(path: Path, package: str = "") -> list[str]:
    """`path:line: what` for each use of another package's private parts in the file at `path`.

    `package` is the one the file belongs to, for its relative imports.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported: dict[str, str] = {}  # local name -> what it was imported as
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
                if not is_own(alias.name) and any(map(is_private, alias.name.split("."))):
                    found.append((node.lineno, f"imports the private module {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # the project's own modules
                module = importlib.util.resolve_name("." * node.level + module, package)
            elif not is_own(module):
                if any(map(is_private, module.split("."))):
                    found.append((node.lineno, f"imports from the private module {module}"))
                for alias in node.names:
                    if is_private(alias.name):
                        found.append((node.lineno, f"imports the private {module}.{alias.name}"))
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Attribute):
            if node.attr in FRAME_ATTRIBUTES:
                found.append((node.lineno, f"walks frames: {ast.unparse(node)}"))
            elif is_private(node.attr) and not (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            ):
                found.append((node.lineno, f"uses the private attribute {ast.unparse(node)}"))
    classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    for cls in classes.values():
        privates = inherited_privates(cls, classes, imported)
        for node in own_nodes(cls):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in privates:
                found.append((node.lineno, f"{cls.name} overrides its base's private {node.name}"))
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in privates
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                found.append((node.lineno, f"{cls.name} uses its base's private {node.attr}"))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return [f"{shown}:{line}: {what}" for line, what in sorted(found)]


def package_of(path: Path) -> str:
    """The package a file of src/ belongs to, e.g. `<package>.data`; "" for the scripts."""
    if not path.is_relative_to(ROOT / "src"):
        return ""
    return ".".join(path.parent.relative_to(ROOT / "src").parts)


def test_no_private_parts_of_dependencies_are_used() -> None:
    found = [hit for path in FILES for hit in scan(path, package_of(path))]
    assert not found, "private parts of other packages in use:\n" + "\n".join(found)


# (a file's code, the end of what the scan says about its last line)
PLANTED = [
    (
        "from hydra_plugins.sweeper._impl import Sweeper",
        "private module hydra_plugins.sweeper._impl",
    ),
    ("import torch._dynamo", "private module torch._dynamo"),
    (
        "from lightning.fabric.utilities.types import _PATH",
        "private lightning.fabric.utilities.types._PATH",
    ),
    ("node = cfg._get_node('model')", "private attribute cfg._get_node"),
    ("trial = found[0]._trial_id", "private attribute found[0]._trial_id"),
    ("jobs = super()._configure_trials(trials)", "private attribute super()._configure_trials"),
    ("frame = error.__traceback__.tb_frame", "walks frames: error.__traceback__.tb_frame"),
    ("key = frame.f_locals.get('full_key')", "walks frames: frame.f_locals"),
    ("tb = tb.tb_next", "walks frames: tb.tb_next"),
    (
        "import argparse\nclass Parser(argparse.ArgumentParser):\n    def _get_formatter(self):",
        "Parser overrides its base's private _get_formatter",
    ),
    (
        "from argparse import ArgumentParser as P\nclass Base(P):\n    pass\n"
        "class Parser(Base):\n    def actions(self):\n        return self._actions",
        "Parser uses its base's private _actions",
    ),
]


@pytest.mark.parametrize(("code", "what"), PLANTED)
def test_each_kind_of_violation_is_found(tmp_path: Path, code: str, what: str) -> None:
    path = tmp_path / "planted.py"
    path.write_text(code + ("\n        return None\n" if code.endswith(":") else "\n"))
    [found] = scan(path)  # one violation, the planted one
    assert found.startswith(f"{path}:{code.count(chr(10)) + 1}: ") and found.endswith(what)


def test_the_projects_own_and_public_names_pass(tmp_path: Path) -> None:
    path = tmp_path / "clean.py"
    path.write_text(
        f"import argparse\nfrom . import _helpers\nfrom {PACKAGE}._version import _v\n"
        "print(cfg._target_, type(cfg).__name__, tb.tb_lineno)\n"
        "class Parser(argparse.ArgumentParser):\n"
        "    def __init__(self):\n        super().__init__()\n        self._mine = 1\n"
        "    def _own(self):\n        return self._mine, cls._count\n"
    )
    assert scan(path, package="pkg") == []
