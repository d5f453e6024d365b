"""The README's configuration table lists exactly the groups and options found in conf/."""

import re

from .conftest import PROJECT_ROOT

ROW = re.compile(r"^\| `(?P<group>\w+)` \| (?P<options>[^|]+) \|", re.MULTILINE)


def documented_groups() -> dict[str, set[str]]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return {
        row["group"]: set(re.findall(r"`([\w-]+)`", row["options"]))
        for row in ROW.finditer(section)
    }


def test_readme_config_table_matches_conf() -> None:
    conf = PROJECT_ROOT / "conf"
    actual = {
        group.name: {path.stem for path in group.glob("*.yaml")}
        for group in sorted(conf.iterdir())
        if group.is_dir()  # conf/local/ holds only the user's own, untracked options
    }
    assert documented_groups() == actual, "update the Configuration table in README.md"
