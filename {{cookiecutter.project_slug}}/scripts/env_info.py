"""Print what a bug report needs: python scripts/env_info.py  (or: make env)"""

import platform
import sys

from {{ cookiecutter.package_name }}.runs import package_versions


def main() -> None:
    print(f"python        {sys.version.split()[0]} ({platform.platform()})")
    for name, version in package_versions().items():
        print(f"{name:<13} {version or 'not installed'}")
    import torch  # after the versions: importing torch takes a few seconds

    print(f"cuda          {torch.version.cuda or 'none'} (available: {torch.cuda.is_available()})")
    for index in range(torch.cuda.device_count()):
        print(f"  cuda:{index}      {torch.cuda.get_device_name(index)}")
    print(f"mps           available: {torch.backends.mps.is_available()}")
    print(f"cpu threads   {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
