#!/usr/bin/env python3
"""`helm lint --strict` and `helm template` for a chart, with Helm's own engine.

No helm binary is on the package registries this project installs from, so
scripts/setup.sh unpacks PyPI's helm-python-sdk (Helm 4's Go SDK behind a C
ABI) into vendor/helm-sdk. This prints every rendered manifest as one YAML
stream, like `helm template`, and exits 1 if lint reports a warning or error.

    python3 scripts/helm_render.py CHART [VALUES_JSON] [--name NAME] [--namespace NS]
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SDK = ROOT / "vendor" / "helm-sdk"
WARNING = 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chart")
    parser.add_argument("values", nargs="?", default="{}", help="values as JSON, merged over values.yaml")
    parser.add_argument("--name", default="inference-hub")
    parser.add_argument("--namespace", default="default")
    args = parser.parse_args()
    if not (SDK / "helm_python").is_dir():
        print(f"{SDK} is missing: run `bash scripts/setup.sh`", file=sys.stderr)
        return 2
    sys.path.insert(0, str(SDK))
    import helm_python  # noqa: E402 (found only once the path is set)

    values = json.loads(args.values)
    report = helm_python.lint(args.chart, values, strict=True, namespace=args.namespace)
    problems = [m for m in report["messages"] if m["severity"] >= WARNING] + [
        {"path": "", "error": e} for e in report["errors"]
    ]
    for problem in problems:
        print(f"lint: {problem['path']}: {problem['error']}", file=sys.stderr)
    if problems:
        return 1

    chart = helm_python.Chart.load(args.chart)
    rendered = chart.render(values, name=args.name, namespace=args.namespace, is_install=True)
    for path in sorted(rendered):
        text = rendered[path].strip()
        if path.endswith(".yaml") and text:
            print(f"---\n# Source: {path}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
