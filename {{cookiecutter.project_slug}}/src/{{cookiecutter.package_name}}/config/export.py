"""The schema of conf/export.yaml: `python export.py` adds these keys to eval.yaml's."""

from dataclasses import dataclass

from . import TrainConf


@dataclass
class ExportConf(TrainConf):
    format: str = "onnx"
    check_samples: int = 16
    atol: float = 1e-5
    rtol: float = 1e-4


SCHEMAS = {"export_schema": ExportConf}
