"""The README and the --help page stay true to the code.

Its Configuration table lists exactly the groups and options in conf/, every command of the
project's root scripts (`train.py`, `eval.py`, ...) in it composes and passes the config checks
(in-process, no training), and the errors it shows are the ones the command line prints. An
error that lists the options of a group matches when the options it shows still exist: adding
an option keeps it true.

The examples of the --help page (conf/hydra/help/project.yaml) compose and pass the checks too.

Words holding a placeholder (`<run>`, `...`) are left out of a command and the rest must still
compose. Commands under "Adding your own" are skipped: they name options the recipes create.
"""

import importlib
import re
import shlex
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict

from {{ cookiecutter.package_name }}.build import build
from {{ cookiecutter.package_name }}.errors import describe
from {{ cookiecutter.package_name }}.runs.checks import check_before_start, check_config

from .conftest import CONFIG_DIR, PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
# Each root script runs conf/<its name>.yaml; importing the module it starts from registers that
# config's schema, as running it does.
SCRIPTS = {path.name: path.stem for path in PROJECT_ROOT.glob("*.py")}
for script in PROJECT_ROOT.glob("*.py"):
    importlib.import_module(re.findall(r"^from (\S+) import", script.read_text(), re.M)[0])
FLAGS_WITH_A_VALUE = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--info", "-i"}
FLAGS_WITH_A_VALUE |= {"--shell-completion", "-sc"}
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
ROW = re.compile(r"^\| `(?P<group>\w+)` \| (?:`(?P<option>[\w-]+)`|yours) \|", re.MULTILINE)


def section(title: str) -> str:
    heading = f"\n## {title}\n"
    assert heading in README, f"README.md has no '## {title}' section; this test reads it"
    return README.split(heading, 1)[1].split("\n## ", 1)[0]


def documented_options() -> dict[str, set[str]]:
    options: dict[str, set[str]] = {}
    for row in ROW.finditer(section("Configuration")):
        options.setdefault(row["group"], set())
        if row["option"]:
            options[row["group"]].add(row["option"])
    return options


def test_readme_config_table_matches_conf() -> None:
    conf = PROJECT_ROOT / "conf"
    actual = {
        group.name: {path.stem for path in group.glob("*.yaml")}
        for group in sorted(conf.iterdir())
        if group.is_dir()  # conf/local/ holds only the user's own, untracked options
    }
    assert documented_options() == actual, "update the Configuration table in README.md"


def command_lines() -> list[tuple[str, str | None]]:
    """Each candidate command line, with the `Error: ...` line a console block shows after it."""
    readme = README.replace(section("Adding your own"), "")
    found: list[tuple[str, str | None]] = []
    for block in FENCE.finditer(readme):
        lines = block["body"].replace("\\\n", " ").splitlines()
        if block["lang"] == "console":
            for line, output in zip(lines, [*lines[1:], ""], strict=True):
                if line.startswith("$ "):
                    error = output.removeprefix("Error: ") if output.startswith("Error: ") else None
                    found.append((line.removeprefix("$ "), error))
        else:
            found += [(line, None) for line in lines]
    spans = re.findall(r"`([^`]+)`", FENCE.sub("", readme))  # inline code may wrap lines
    return found + [(" ".join(span.split()), None) for span in spans]


def parse(line: str) -> tuple[str, list[str]] | None:
    """(config name, overrides) of a `python train.py ...` (or srun/torchrun) line, else None."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    for i, word in enumerate(words):
        script = SCRIPTS.get(Path(word).name)
        if script and i > 0 and (words[i - 1] == "python" or words[0] == "torchrun"):
            return script, hydra_overrides(words[i + 1 :])
    return None


def hydra_overrides(words: list[str]) -> list[str]:
    """The overrides alone: without Hydra's flags (-m, --cfg job, ...) and placeholders."""
    overrides, skip_next = [], False
    for word in words:
        if word in ("|", "&&", ";", ">"):  # the shell's: the command ends here
            break
        if skip_next:
            skip_next = False
        elif word.startswith("-"):
            skip_next = word in FLAGS_WITH_A_VALUE
        elif "<" not in word and "..." not in word:
            overrides.append(word)
    return overrides


COMMANDS = {line: (parsed, error) for line, error in command_lines() if (parsed := parse(line))}
ERRORS = {line: (parsed, error) for line, (parsed, error) in COMMANDS.items() if error}


def test_the_readme_commands_are_found() -> None:
    assert len(COMMANDS) >= 40
    assert len(ERRORS) >= 5
    assert set(SCRIPTS.values()) <= {config for (config, _), _ in COMMANDS.values()}


def expand_sweeps(overrides: list[str]) -> tuple[list[list[str]], list[str]]:
    """One override list per combination of listed sweep values (`seed=1,2`), and the keys of
    sampled ranges (`interval(...)`), drawn from by a search: those only need to exist."""
    combinations: list[list[str]] = [[]]
    sampled: list[str] = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if not override.is_sweep_override():
            combinations = [c + [str(override.input_line)] for c in combinations]
            continue
        try:
            values = list(override.sweep_string_iterator())
        except HydraException:
            sampled.append(override.key_or_group)
            continue
        key = override.get_key_element()
        combinations = [c + [f"{key}={value}"] for c in combinations for value in values]
    return combinations, sampled


def compose_command(config_name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR):
        return compose(config_name=config_name, overrides=overrides, return_hydra_config=True)


HELP_PAGE = (PROJECT_ROOT / "conf" / "hydra" / "help" / "project.yaml").read_text()
# Each example: a command, then its description after two spaces or more.
HELP_COMMANDS = {
    command: parsed
    for line in HELP_PAGE.splitlines()
    if (parsed := parse(command := re.split(r"\s{2,}", line.strip())[0]))
}


def test_the_help_page_has_a_dozen_examples() -> None:
    assert len(HELP_COMMANDS) >= 12


@pytest.mark.parametrize("line", sorted(HELP_COMMANDS))
def test_help_page_example_composes_and_validates(line: str) -> None:
    composes_and_validates(*HELP_COMMANDS[line])


@pytest.mark.parametrize("line", sorted(set(COMMANDS) - set(ERRORS)))
def test_readme_command_composes_and_validates(line: str) -> None:
    (config_name, overrides), _ = COMMANDS[line]
    composes_and_validates(config_name, overrides)


def composes_and_validates(config_name: str, overrides: list[str]) -> None:
    combinations, sampled = expand_sweeps(overrides)
    for combination in combinations:
        cfg = compose_command(config_name, combination)  # hydra.* overrides are applied too
        check_config(cfg)  # the checks that need no GPU and no checkpoint
        for key in sampled:
            parent, _, name = key.rpartition(".")
            assert name in OmegaConf.select(cfg, parent), f"{key} is not in the config"


@pytest.mark.parametrize("line", sorted(ERRORS))
def test_readme_error_is_what_the_command_prints(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_name, overrides), error = ERRORS[line]
    if "trainer=gpu" in overrides and torch.cuda.is_available():
        pytest.skip("this machine has a GPU, so trainer=gpu is no error here")
    monkeypatch.chdir(tmp_path)  # relative paths (logs/, checkpoints) start here
    with pytest.raises(Exception) as raised:
        cfg = compose_command(config_name, overrides)
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
        check_before_start(cfg)
        build(cfg)  # what Hydra and Lightning refuse as the run is built
    printed = describe(raised.value)
    assert printed is not None, f"not an expected error: {raised.value!r}"
    shown, _, shown_options = str(error).partition("use one of: ")
    actual, _, actual_options = printed.partition("use one of: ")
    assert shown == actual
    assert set(shown_options.split(", ")) <= set(actual_options.split(", "))
