"""Compare runs: python scripts/compare_runs.py logs/multiruns/<sweep> [more run folders...]

Writes comparison.md, comparison.csv and comparison.png (val/loss per run, see --metric).
"""

from {{ cookiecutter.package_name }}.tools.compare import main

if __name__ == "__main__":
    main()
