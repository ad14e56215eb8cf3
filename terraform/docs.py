"""Generate the inputs/outputs tables of each module README (what terraform-docs does, offline).

python terraform/docs.py          rewrite the tables between the markers in terraform/modules/*/README.md
python terraform/docs.py --check  exit 1 when a README's tables are out of date (the tests run this check)

The README text above the markers is hand-written; the tables come from variables.tf/outputs.tf.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import hcl2

MODULES = Path(__file__).resolve().parent / "modules"
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def clean(value: Any) -> Any:
    """python-hcl2 keeps HCL quoting and block markers; strip them to plain Python values."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return clean(hcl2.load(handle))


def named_blocks(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """{name: body} of the `kind` blocks (variable, output) of one parsed file."""
    return {name: body for entry in doc.get(kind, []) for name, body in entry.items()}


def _expr(text: Any) -> str:
    if isinstance(text, str) and text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return json.dumps(text) if not isinstance(text, str) else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables(module: Path) -> str:
    variables = named_blocks(load(module / "variables.tf"), "variable")
    outputs = named_blocks(load(module / "outputs.tf"), "output")
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    for name in sorted(variables):
        body = variables[name]
        required = "default" not in body
        default = (
            "n/a"
            if required
            else f"`{_cell(json.dumps(body['default']) if body['default'] is not None else 'null')}`"
        )
        lines.append(
            f"| `{name}` | {_cell(body.get('description', ''))} | `{_cell(_expr(body.get('type', 'any')))}` "
            f"| {default} | {'yes' if required else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(outputs[name].get('description', ''))} |" for name in sorted(outputs)]
    return "\n".join(lines) + "\n"


def render(readme: str, module: Path) -> str:
    head = readme.split(BEGIN)[0].rstrip() + "\n\n" if BEGIN in readme else readme.rstrip() + "\n\n"
    return f"{head}{BEGIN}\n{tables(module)}{END}\n"


def stale(modules: Path = MODULES) -> list[str]:
    out = []
    for module in sorted(p for p in modules.iterdir() if p.is_dir()):
        readme = module / "README.md"
        if not readme.exists() or readme.read_text() != render(readme.read_text(), module):
            out.append(module.name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a README is out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        if out_of_date:
            print(
                f"module READMEs out of date (run `make tf-docs`): {', '.join(out_of_date)}", file=sys.stderr
            )
            return 1
        return 0
    for module in sorted(p for p in MODULES.iterdir() if p.is_dir()):
        readme = module / "README.md"
        text = readme.read_text() if readme.exists() else f"# {module.name}\n"
        readme.write_text(render(text, module))
    return 0


if __name__ == "__main__":
    sys.exit(main())
