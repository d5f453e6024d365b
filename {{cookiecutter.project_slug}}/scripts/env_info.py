"""Print what a bug report needs: python scripts/env_info.py  (or: make env)"""

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ["torch", "lightning", "torchmetrics", "hydra-core", "omegaconf", "numpy"]


def main() -> None:
    print(f"python        {sys.version.split()[0]} ({platform.platform()})")
    for name in PACKAGES:
        try:
            print(f"{name:<13} {version(name)}")
        except PackageNotFoundError:
            print(f"{name:<13} not installed")
    import torch  # after the versions: importing torch takes a few seconds

    print(f"cuda          {torch.version.cuda or 'none'} (available: {torch.cuda.is_available()})")
    for index in range(torch.cuda.device_count()):
        print(f"  cuda:{index}      {torch.cuda.get_device_name(index)}")
    print(f"mps           available: {torch.backends.mps.is_available()}")
    print(f"cpu threads   {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
