"""Each license choice yields the standard text under the author's name, or no license at all."""

import json
from datetime import datetime, timezone

import pytest

from tests.helpers import TEMPLATE_ROOT, Bake, assert_ruff_clean, load_pyproject

AUTHOR = "Ada Lovelace"
YEAR = datetime.now(timezone.utc).year
# Passages that identify each standard text: its beginning, middle and end.
MARKERS = {
    "MIT": [
        "MIT License",
        f"Copyright (c) {YEAR} {AUTHOR}",
        "Permission is hereby granted, free of charge, to any person obtaining a copy",
        "OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE",
    ],
    "Apache-2.0": [
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "9. Accepting Warranty or Additional Liability.",
        "END OF TERMS AND CONDITIONS",
        f"Copyright {YEAR} {AUTHOR}",
        "limitations under the License.",
    ],
    "BSD-3-Clause": [
        "BSD 3-Clause License",
        f"Copyright (c) {YEAR}, {AUTHOR}",
        "3. Neither the name of the copyright holder nor the names of its",
        "OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.",
    ],
}
CHOICES = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())["license"]


def test_every_choice_is_covered() -> None:
    assert set(CHOICES) == {*MARKERS, "none"}


@pytest.mark.parametrize("choice", CHOICES)
def test_license(bake: Bake, choice: str) -> None:
    project = bake(license=choice, author_name=AUTHOR)
    metadata = load_pyproject(project)["project"]
    license_file = project / "LICENSE"
    if choice == "none":
        assert not license_file.exists()
        assert "license" not in metadata
        assert "license-files" not in metadata
        assert not [c for c in metadata.get("classifiers", []) if c.startswith("License ::")]
    else:
        text = license_file.read_text()
        assert [marker for marker in MARKERS[choice] if marker not in text] == []
        assert text.endswith(".\n") and not text.endswith("\n\n")
        assert metadata["license"] in (choice, {"text": choice})
    assert_ruff_clean(project)
