"""The serving benchmark's anchor: the LitServe API an expert writes by hand for a baked project's
table classifier, as small as it gets, with the same network and preprocessing as serve.py (the
checkpoint's feature columns standardised with its training statistics) and the same answer.

    python bench/serve_anchor.py CHECKPOINT PORT MAX_BATCH_SIZE BATCH_TIMEOUT

No request checks: a bad request is a 500 here.
"""

import sys
from typing import Any

import litserve as ls
import torch
from hydra.utils import instantiate


class TableAPI(ls.LitAPI):
    def __init__(self, checkpoint_path: str, **options: Any) -> None:
        super().__init__(**options)
        self.checkpoint_path = checkpoint_path

    def setup(self, device: str) -> None:
        checkpoint = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        data = checkpoint["CSVDataModule"]  # the DataModule's state: columns, statistics, classes
        self.columns, self.classes = data["features"], data["classes"]
        self.mean, self.std = data["fitted"]["mean"], data["fitted"]["std"]
        shapes = checkpoint["hyper_parameters"]
        net = instantiate(checkpoint["run_config"]["model"]["net"])  # a partial: shapes to come
        self.net = net(input_shape=tuple(shapes["input_shape"]), num_outputs=shapes["num_outputs"])
        weights = checkpoint["state_dict"]
        self.net.load_state_dict({k[4:]: v for k, v in weights.items() if k.startswith("net.")})
        self.net.eval()

    def decode_request(self, request: dict[str, Any]) -> torch.Tensor:
        return torch.tensor([float(request[column]) for column in self.columns])

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(B, features) from batch(), or one request's (features,) with max_batch_size=1."""
        with torch.inference_mode():
            p = self.net((x.view(-1, len(self.columns)) - self.mean) / self.std).softmax(dim=-1)
        return p if x.dim() > 1 else p[0]

    def encode_response(self, p: torch.Tensor) -> dict[str, Any]:
        probabilities = dict(zip(self.classes, p.tolist(), strict=True))
        return {"prediction": self.classes[int(p.argmax())], "probabilities": probabilities}


if __name__ == "__main__":
    checkpoint, port, max_batch_size, batch_timeout = sys.argv[1:]
    batching = {"max_batch_size": int(max_batch_size), "batch_timeout": float(batch_timeout)}
    api = TableAPI(checkpoint, **batching)
    server = ls.LitServer(api, accelerator="cpu")
    server.run(host="127.0.0.1", port=int(port), log_level="warning", generate_client_file=False)
