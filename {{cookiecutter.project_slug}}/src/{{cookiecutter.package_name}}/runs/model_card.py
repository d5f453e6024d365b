"""MODEL_CARD.md: a run's model card in the Hugging Face format, in its run folder.

YAML front matter, which the Hub and `huggingface_hub.ModelCard` read: the license, the
metrics as `model-index` results (one per command that measured them: train.py's, and eval.py's
once it tests the run's checkpoint), the data fingerprint, the hyperparameters and the library
versions; then the sections only a person can write, to fill in. Written whole (atomically), and
rewritten by eval.py with its results, keeping what a person wrote below the front matter.
"""

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from omegaconf import OmegaConf

from . import write_atomically

MODEL_CARD = "MODEL_CARD.md"
FENCE = "---\n"

# The text below a new card's front matter, with {title}, {task} and {package} filled in.
BODY = Path(__file__).with_name("model_card.md")


def package_license(package: str) -> str:
    """The project's license as the Hub names it (`mit`, `apache-2.0`), from its metadata."""
    try:
        fields = metadata.metadata(package)
    except metadata.PackageNotFoundError:
        return "unknown"
    return (fields["License-Expression"] or fields["License"] or "unknown").lower()


def model_index_result(
    command: str, source: Path, task: str, dataset: str, metrics: Mapping[str, float]
) -> dict[str, Any]:
    """One `model-index` result: the `metrics` that `command` measured and saved in `source`
    (its metrics.json)."""
    return {
        "task": {"type": task},
        "dataset": {"name": dataset, "type": dataset},
        "metrics": [{"type": name, "value": float(metrics[name])} for name in sorted(metrics)],
        "source": {"name": command, "url": source.resolve().as_uri()},
    }


def write_model_card(
    run_dir: Path, title: str, result: Mapping[str, Any], about: Mapping[str, Any]
) -> Path:
    """Writes <run_dir>/MODEL_CARD.md with `result` among its results, replacing an earlier
    one of the same command on the same dataset; a new card also gets `about` (the front
    matter's other fields) and the sections to fill in."""
    path = run_dir / MODEL_CARD
    if path.is_file():
        _, front_text, body = path.read_text().split(FENCE, 2)
        front = cast(dict[str, Any], OmegaConf.to_container(OmegaConf.create(front_text)))
    else:
        front = {**about, "model-index": [{"name": title, "results": []}]}
        task, package = result["task"]["type"], __name__.split(".")[0]
        body = "\n" + BODY.read_text().format(title=title, task=task, package=package)
    results = front["model-index"][0]["results"]
    same = (result["source"]["name"], result["dataset"])
    kept = [r for r in results if (r["source"]["name"], r["dataset"]) != same]
    front["model-index"][0]["results"] = [*kept, dict(result)]
    write_atomically(path, f"{FENCE}{OmegaConf.to_yaml(front)}{FENCE}{body}")
    return path
