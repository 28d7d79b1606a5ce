"""The model zoo: every causal-LM and image-text-to-text type of the pinned transformers, counted twice.

For each type in transformers' ``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES`` and
``MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES``, its default config is counted by transformers
itself (the model built on the meta device, ``verify.meta_count``) and by the planner's pure
core (``planner.model.model_from_config``), and the two are set side by side. Types that
transformers cannot build from its own default config are listed as such; types the planner
does not count exactly are listed in ``data/zoo_exceptions.json`` with the reason.

    python -m scripts.zoo            # print the whole table
    python -m scripts.zoo --readme   # rewrite README's coverage section from a fresh run
    python -m scripts.zoo --check    # exit 1 when README's section is out of date

Needs torch and transformers (``requirements-test.txt``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXCEPTIONS = ROOT / "data" / "zoo_exceptions.json"
START = "<!-- zoo:start -->"
END = "<!-- zoo:end -->"
#: Relative error within which the planner's count is "exact" (the issue's 0.1%).
TOLERANCE = 0.001
#: Coverage the zoo test holds the planner to, of the types transformers can build.
THRESHOLDS = {"causal": 0.95, "image_text": 0.80}
KIND_TITLES = {"causal": "causal LM", "image_text": "image-text-to-text"}


@dataclass(frozen=True)
class Row:
    """One model type of one table."""

    kind: str
    model_type: str
    reference: int | None  # transformers' meta-device count; None when it cannot build the default
    planner: int | None  # the planner's count; None when it refused the config
    source: str  # which of the planner's sources counted it (or why nothing did)
    error: str = ""  # why transformers or the planner refused

    @property
    def buildable(self) -> bool:
        return self.reference is not None

    @property
    def relative_error(self) -> float | None:
        if self.reference is None or self.planner is None or not self.reference:
            return None
        return (self.planner - self.reference) / self.reference

    @property
    def exact(self) -> bool:
        err = self.relative_error
        return err is not None and abs(err) <= TOLERANCE


def zoo_types() -> list[tuple[str, str]]:
    """``(kind, model_type)`` of every type in transformers' two tables."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    return [("causal", t) for t in sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)] + [
        ("image_text", t) for t in sorted(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)
    ]


def default_config(model_type: str) -> dict[str, Any]:
    """transformers' default config of ``model_type`` as a ``config.json`` would hold it."""
    from transformers import AutoConfig

    return json.loads(json.dumps(AutoConfig.for_model(model_type).to_dict(), default=str))


def text_only_class(kind: str, model_type: str) -> bool:
    """True when the causal-LM class of a multimodal type drops the vision tower (``MllamaForCausalLM``)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    return (
        kind == "causal"
        and model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
        and MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[model_type]
        != MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES[model_type]
    )


def planner_count(kind: str, model_type: str, config: dict[str, Any]) -> tuple[int, str]:
    """The planner's parameter count for ``config`` and the source that produced it."""
    from planner.model import model_from_config

    spec = model_from_config(config)
    total = spec.total_parameters
    if text_only_class(kind, model_type):
        total -= spec.vision_parameters  # the causal-LM class holds the language model only
    if spec.approximate:
        source = f"generic estimate ({spec.family})"
    elif spec.family == "template":
        source = "template"
    else:
        source = f"builder ({spec.family})"
    return total, source


def count_row(kind: str, model_type: str) -> Row:
    """Count ``model_type``'s default config both ways."""
    from planner.errors import PlannerError
    from verify.meta_count import transformers_parameter_count

    try:
        config = default_config(model_type)
        reference = transformers_parameter_count(config, kind=kind, keep_token_ids=True)
    except Exception as exc:
        return Row(kind, model_type, None, None, "transformers cannot build it", _short(exc))
    try:
        planner, source = planner_count(kind, model_type, config)
    except PlannerError as exc:
        return Row(kind, model_type, reference, None, "refused", _short(exc))
    return Row(kind, model_type, reference, planner, source)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


def rows(types: Sequence[tuple[str, str]] | None = None) -> list[Row]:
    """Every row of the zoo (or of ``types``)."""
    from scripts.templates.probe import quiet

    quiet()
    return [count_row(kind, t) for kind, t in (types or zoo_types())]


def exceptions() -> dict[str, str]:
    """``{"kind/model_type": reason}`` for the types the planner does not count exactly."""
    return json.loads(EXCEPTIONS.read_text(encoding="utf-8"))["types"]


def coverage(table: Sequence[Row], kind: str) -> tuple[int, int, int]:
    """``(exact, buildable, all)`` for one table."""
    mine = [r for r in table if r.kind == kind]
    return sum(r.exact for r in mine), sum(r.buildable for r in mine), len(mine)


def fmt_count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_error(r: Row) -> str:
    err = r.relative_error
    if err is None:
        return "-"
    return "0" if r.planner == r.reference else f"{100 * err:+.3f}%"


def table_lines(table: Sequence[Row]) -> list[str]:
    """The whole zoo as a plain-text table."""
    lines = [f"{'kind':<10} {'model_type':<28} {'transformers':>18} {'planner':>18} {'error':>10}  source"]
    for r in table:
        lines.append(
            f"{r.kind:<10} {r.model_type:<28} {fmt_count(r.reference):>18} {fmt_count(r.planner):>18} "
            f"{fmt_error(r):>10}  {r.source}{' - ' + r.error if r.error else ''}"
        )
    return lines


def render(table: Sequence[Row]) -> str:
    """README's coverage section."""
    import transformers

    reasons = exceptions()
    lines = [
        START,
        "<!-- generated by `python -m scripts.zoo --readme` from transformers' own modeling code; do not edit -->",
        "## Model coverage",
        "",
        f"Every causal-LM and image-text-to-text type of transformers {transformers.__version__}, from its default "
        "config: the planner's parameter count (pure core, no torch) against the model transformers builds on "
        f"the meta device. Exact means within {100 * TOLERANCE:.1f}%; the zoo test (`tests/planner/model/"
        "test_zoo.py`) holds these figures and also checks perturbed configs (other sizes, layer counts, expert "
        "counts, GQA vs MHA).",
        "",
        "| table | types | transformers builds | planner exact | coverage |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("causal", "image_text"):
        exact, buildable, total = coverage(table, kind)
        lines.append(
            f"| {KIND_TITLES[kind]} | {total} | {buildable} | {exact} | {100 * exact / max(buildable, 1):.1f}% |"
        )
    sources: dict[str, int] = {}
    for r in table:
        if r.exact:
            key = r.source.split(" (")[0]
            sources[key] = sources.get(key, 0) + 1
    lines += [
        "",
        "Exact counts by source: "
        + ", ".join(f"{n} from {_source_title(s)}" for s, n in sorted(sources.items(), key=lambda kv: -kv[1]))
        + ". Templates are derived from transformers' modeling code by `scripts/derive_templates.py` "
        "(`data/templates/`).",
        "",
    ]
    missed = [r for r in table if r.buildable and not r.exact]
    if missed:
        lines += ["Not exact yet (reason from `data/zoo_exceptions.json`):", ""]
        for r in missed:
            reason = reasons.get(f"{r.kind}/{r.model_type}", "no reason recorded")
            lines.append(f"- `{r.model_type}` ({KIND_TITLES[r.kind]}, {fmt_error(r)}): {reason}")
        lines.append("")
    unbuildable = [r for r in table if not r.buildable]
    if unbuildable:
        names = ", ".join(f"`{r.model_type}`" for r in unbuildable)
        lines += [f"transformers itself cannot build the default config of: {names}.", ""]
    lines.append(END)
    return "\n".join(lines)


def _source_title(source: str) -> str:
    return {
        "template": "derived templates",
        "builder": "hand-written builders",
        "generic estimate": "the generic estimate",
    }.get(source, source)


def update(text: str, section: str) -> str:
    """``text`` with the part between the markers replaced by ``section`` (appended when there are none)."""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        return head + section + tail
    if START in text or END in text:
        raise SystemExit(f"README.md has only one of {START} / {END}; fix it by hand")
    return text.rstrip("\n") + "\n\n" + section + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table, or write/check README's section; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--readme", action="store_true", help="rewrite README.md's coverage section")
    mode.add_argument("--check", action="store_true", help="exit 1 when README.md's section is out of date")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    table = rows()
    if args.json:
        print(json.dumps([r.__dict__ for r in table], indent=1))
        return 0
    if not (args.readme or args.check):
        print("\n".join(table_lines(table)))
        for kind in ("causal", "image_text"):
            exact, buildable, total = coverage(table, kind)
            print(
                f"{KIND_TITLES[kind]}: {exact}/{buildable} exact of the types transformers builds ({total} in all)"
            )
        return 0
    current = README.read_text(encoding="utf-8")
    wanted = update(current, render(table))
    if args.check:
        if wanted != current:
            print(
                "README.md's coverage section is out of date: run python -m scripts.zoo --readme",
                file=sys.stderr,
            )
            return 1
        return 0
    if wanted != current:
        README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
