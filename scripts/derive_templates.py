"""Derive ``data/templates`` from transformers' own modeling code (offline; needs torch).

For every causal-LM and image-text-to-text type of the installed transformers (or the types
named on the command line), build the model on the meta device from its default config and
from perturbed ones, fit each tensor's shape, repetition and existence to config fields
(``scripts/templates/derive.py``), check the template against every observation with the
planner's own evaluator, and write ``data/templates/<kind>/<model_type>.json``. Types that
cannot be derived are listed with the reason in ``data/templates/unfit.json``.

    python -m scripts.derive_templates                 # everything (about an hour on 2 cores)
    python -m scripts.derive_templates llama llava     # just these types
    python -m scripts.derive_templates --shard 0/2     # half of them (run two shards in parallel)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "templates"


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def all_types() -> list[tuple[str, str]]:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    return [("causal", t) for t in sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)] + [
        ("image_text", t) for t in sorted(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)
    ]


#: Vision towers real multimodal checkpoints combine with other wrappers than their default one.
COMMON_TOWERS = ("clip_vision_model", "siglip_vision_model", "siglip2_vision_model", "pixtral")


def tower_types() -> list[str]:
    """Every vision/audio sub-config type named by an image-text template, plus the common towers."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    out = set(COMMON_TOWERS)
    for path in sorted((OUT / "image_text").glob("*.json")):
        tpl = json.loads(path.read_text())
        for key in ("vision_config", "audio_config"):
            if (tpl.get("sub_configs") or {}).get(key):
                out.add(tpl["sub_configs"][key])
    return sorted(t for t in out if t in MODEL_MAPPING_NAMES)


def self_check(tpl: dict[str, Any], observations: list[Any]) -> None:
    """The template, evaluated by the planner's pure core, must give every observation's tensors."""
    from planner.errors import InvalidFieldError
    from planner.model.templated import tensor_groups
    from planner.model.templates import Fields
    from scripts.templates.derive import Unfit

    for k, ob in enumerate(observations):
        try:
            groups, _, _ = tensor_groups(tpl, Fields(tpl, ob.given))
        except InvalidFieldError as exc:
            if "more than the" in str(exc):
                continue  # transformers builds top_k > experts; the planner refuses it
            raise
        got = sum(g.parameters for g in groups)
        want = 0
        for shape in ob.tensors.values():
            n = 1
            for d in shape:
                n *= d
            want += n
        if got != want:
            raise Unfit(f"self-check failed on observation {k}: template {got:,} vs transformers {want:,}")


def derive_one(kind: str, model_type: str, seed: int = 0) -> dict[str, Any]:
    from scripts.templates import derive as D

    d = D.observe_all(model_type, kind, seed=seed)
    envs = D.envs_of(d)
    pats = D.collect_patterns(d)
    entries = []
    # patterns of the default build first: patterns that only appear under other settings (biases,
    # optional blocks) can then reuse their siblings' fitted dimensions
    for pat in sorted(pats.values(), key=lambda p: (0 not in p.seen, p.name.count("*"), p.name)):
        entry = D.derive_pattern(d, pat, envs)
        part = D.part_of(pat.name, d.parts)
        entry["part"] = part
        role, fused = D.classify(pat.name, pat.cls, part, list(entry["shape"]))
        entry["role"] = role
        if role.startswith("expert_"):
            if fused:
                count = entry["shape"][0]
                entry["shape"] = entry["shape"][1:]
                entry["experts"] = {"count": count, "top_k": D.top_k_field(d.base.resolved, count)}
            elif ".experts.*" in pat.name:
                axis = pat.name.split(".experts.*")[0].count("*")
                count = entry["repeat"][axis]["count"]
                entry["experts"] = {"axis": axis, "top_k": D.top_k_field(d.base.resolved, count)}
        entries.append(entry)
    entries.sort(key=lambda e: (e["name"].count("*"), e["name"]))
    tpl = D.json_ready(D.assemble(d, entries, envs))
    self_check(tpl, d.obs)
    tpl["observations"] = len(d.obs)
    return tpl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("types", nargs="*", help="model types (default: every causal-LM and image-text type)")
    parser.add_argument(
        "--kind", choices=("causal", "image_text", "base"), help="with types: which Auto class"
    )
    parser.add_argument("--shard", default="0/1", help="k/n: derive every n-th type starting at k")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per type")
    parser.add_argument("--skip-existing", action="store_true")
    parser.add_argument("--reverse", action="store_true", help="work from the end of the list")
    parser.add_argument(
        "--towers",
        action="store_true",
        help="derive the tower templates (base) the image-text templates name",
    )
    args = parser.parse_args(argv)

    from scripts.templates.probe import quiet

    quiet()
    if args.towers:
        jobs = [("base", t) for t in tower_types()]
    elif args.types:
        if args.kind:
            jobs = [(args.kind, t) for t in args.types]
        else:
            known = all_types()
            jobs = [(k, t) for k, t in known if t in args.types]
    else:
        jobs = all_types()
    k, n = (int(x) for x in args.shard.split("/"))
    jobs = jobs[k::n]
    if args.reverse:
        jobs.reverse()
    unfit_file = (
        OUT / f"unfit-{k}-{n}{'-r' if args.reverse else ''}.json"
        if n > 1 or args.reverse
        else OUT / "unfit.json"
    )
    unfit = json.loads(unfit_file.read_text()) if unfit_file.exists() else {}
    signal.signal(signal.SIGALRM, _alarm)
    for kind, model_type in jobs:
        path = OUT / kind / f"{model_type}.json"
        if args.skip_existing and path.exists():
            continue
        start = time.time()
        signal.alarm(args.timeout)
        try:
            tpl = derive_one(kind, model_type)
        except _Timeout:
            unfit[f"{kind}/{model_type}"] = f"derivation took over {args.timeout} s"
            print(f"{kind}/{model_type}: TIMEOUT", flush=True)
            continue
        except Exception as exc:
            signal.alarm(0)
            unfit[f"{kind}/{model_type}"] = f"{type(exc).__name__}: {exc}"[:300]
            print(f"{kind}/{model_type}: UNFIT {unfit[f'{kind}/{model_type}']}", flush=True)
            path.unlink(missing_ok=True)
        else:
            signal.alarm(0)
            unfit.pop(f"{kind}/{model_type}", None)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(tpl, indent=1, sort_keys=False) + "\n", encoding="utf-8")
            print(
                f"{kind}/{model_type}: ok ({len(tpl['tensors'])} patterns, {time.time() - start:.0f} s)",
                flush=True,
            )
        finally:
            signal.alarm(0)
        unfit_file.parent.mkdir(parents=True, exist_ok=True)
        unfit_file.write_text(json.dumps(dict(sorted(unfit.items())), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
