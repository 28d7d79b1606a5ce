"""Derive one model type's tensor template from transformers' modeling code (offline, torch).

The model is built on the meta device from its default config, from configs with one field
changed at a time (which tensor dimensions follow which fields) and from seeded random joint
changes (enough observations to tell candidate expressions apart). Every tensor name pattern
then gets: its shape as expressions over config fields (:func:`fit.fit_number`), the index
range and rule of each repeated level (layers, experts: :func:`fit.fit_predicate`), and the
condition under which it exists at all. The config fields the template reads get their
defaults, how transformers derives them when absent (``head_dim = hidden_size //
num_attention_heads``) and the aliases transformers accepts.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.templates.fit import fit_number, fit_predicate
from scripts.templates.probe import (
    SKIP_KEY,
    Observation,
    Prober,
    del_path,
    flatten,
    get_path,
    has_path,
    is_sub_config,
    json_clean,
    ok_name,
    set_path,
    sub_models,
)
from scripts.templates.roles import classify

#: Config spellings of "how many routed experts run per token".
TOP_K_NAMES = (
    "num_experts_per_tok",
    "num_experts_per_token",
    "experts_per_token",
    "moe_topk",
    "moe_top_k",
    "top_k",
    "num_selected_experts",
    "router_top_k",
    "moe_k",
    "num_activated_experts",
    "top_k_experts",
    "n_activated_experts",
    "num_experts_per_topk",
)
#: Fields a layer description (KV cache geometry) reads, resolved even when no shape uses them.
LAYER_FIELDS = (
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "layer_types",
    "sliding_window",
    "vocab_size",
    "max_position_embeddings",
    "tie_word_embeddings",
)


class Unfit(Exception):
    """The template cannot be derived (the reason is the message)."""


@dataclass
class Pattern:
    name: str
    axes: int
    seen: dict[int, dict[tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=dict
    )  # obs -> idx -> shape
    cls: str = ""


def split_name(name: str) -> tuple[str, tuple[int, ...]]:
    parts = name.split(".")
    idx = tuple(int(p) for p in parts if p.isdigit())
    return ".".join("*" if p.isdigit() else p for p in parts), idx


def _section(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1]


# ------------------------------------------------------------------------------------------
# perturbations


def string_choices(model_type: str) -> dict[str, set[str]]:
    """String values the modeling code compares config fields with (candidate perturbations)."""
    out: dict[str, set[str]] = defaultdict(set)
    for file in source_files(model_type):
        text = Path(file).read_text(encoding="utf-8")
        for m in re.finditer(r"config\.(\w+)(?:\[[^\]]*\])?\s*(?:==|!=)\s*[\"']([^\"']+)[\"']", text):
            out[m.group(1)].add(m.group(2))
        for m in re.finditer(r"config\.(\w+)(?:\[[^\]]*\])?\s*(?:not )?in \(([^)]*)\)", text):
            for s in re.findall(r"[\"']([^\"']+)[\"']", m.group(2)):
                out[m.group(1)].add(s)
        for m in re.finditer(
            r"(\w+)\s*(?:==|!=)\s*[\"'](\w+_attention|mamba\w*|linear\w*|conv|attention)[\"']", text
        ):
            out["layer_types"].add(m.group(2))
    return out


_MODULES: dict[str, list[str]] = {}


def source_files(model_type: str) -> list[str]:
    """The modeling and configuration files of ``model_type``'s transformers package."""
    import importlib

    if model_type not in _MODULES:
        try:
            from transformers.models.auto.configuration_auto import model_type_to_module_name

            module = importlib.import_module(f"transformers.models.{model_type_to_module_name(model_type)}")
            folder = Path(module.__path__[0])
            files = [*folder.glob("modeling_*.py"), *folder.glob("configuration_*.py")]
            _MODULES[model_type] = sorted(str(f) for f in files)
        except Exception:
            _MODULES[model_type] = []
    return _MODULES[model_type]


#: Fields transformers' shared code reads (``PreTrainedModel``, embeddings, tying).
ALWAYS_READ = {
    "tie_word_embeddings",
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "max_position_embeddings",
}


def read_fields(model_types: set[str]) -> set[str]:
    """Every attribute name the modeling/configuration code of ``model_types`` reads off a config."""
    out = set(ALWAYS_READ)
    for model_type in model_types:
        for file in source_files(model_type):
            text = Path(file).read_text(encoding="utf-8")
            for m in re.finditer(r"\b\w*config\w*((?:\.\w+)+)", text):
                out.update(m.group(1).strip(".").split("."))
            out.update(re.findall(r"getattr\(\s*[\w.]*config\w*\s*,\s*[\"'](\w+)", text))
            if "configuration_" in file:
                out.update(re.findall(r"self\.(\w+)", text))
    return out


def leaves(base: dict[str, Any]) -> dict[str, Any]:
    """The perturbable fields of a config: numbers, flags, nulls, strings and flat lists."""
    out = {}
    for path, value in flatten(base).items():
        if SKIP_KEY.search(_leaf(path)) or path == "model_type" or _leaf(path) == "model_type":
            continue
        if isinstance(value, list) and (len(value) > 1024 or any(isinstance(v, (list, dict)) for v in value)):
            continue
        out[path] = value
    return out


def _resize_lists(given: dict[str, Any], path: str, old: Any, new: Any) -> None:
    """After a layer count changes, resize the per-layer lists of its section to match."""
    if not (isinstance(old, int) and isinstance(new, int)) or isinstance(old, bool) or old < 1 or new < 1:
        return
    section = _section(path)
    node = get_path(given, section) if section else given
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if isinstance(value, list) and len(value) == old and key != _leaf(path):
            resized = [value[k % len(value)] for k in range(new)]
            kinds = list(dict.fromkeys(v for v in value if isinstance(v, (str, bool))))
            if new < old and len(kinds) <= new and set(kinds) - set(resized):
                # keep one layer of every kind (a hybrid shrunk to 4 layers still has its rare kind)
                resized = kinds + [value[k % len(value)] for k in range(new - len(kinds))]
            node[key] = resized
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            if "layer" in key and max(value) < old and max(value) >= new:
                node[key] = [v for v in value if v < new]
        elif isinstance(value, str) and len(value) == old and key != "model_type":
            resized = "".join(value[k % len(value)] for k in range(new))
            kinds = "".join(dict.fromkeys(value))
            if new < old and len(kinds) <= new and set(kinds) - set(resized):
                resized = kinds + "".join(value[k % len(value)] for k in range(new - len(kinds)))
            node[key] = resized


def single_candidates(path: str, value: Any, strings: dict[str, set[str]]) -> list[Any]:
    leaf = _leaf(path)
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        if value == 0:
            return [1, 2]
        if value < 0:
            return [value - 1, value + 1]
        if value == 1:
            return [2, 3]
        return [2 * value, value // 2, 3 * value, value + 1]
    if isinstance(value, float):
        return [value * 2, value * 0.5]
    if value is None:
        return [64, 2, True, *sorted(strings.get(leaf, ()))]
    if isinstance(value, str):
        return sorted(strings.get(leaf, set()) - {value})
    if isinstance(value, list):
        if not value:
            return [[0], [1]]
        if all(isinstance(v, str) for v in value):
            distinct = sorted(set(value))
            out = []
            if len(distinct) > 1:
                out.append(value[1:] + value[:1])
            for s in sorted(
                strings.get(leaf, set()) | strings.get("layer_types", set()) if leaf.endswith("types") else ()
            ):
                if s not in distinct:
                    out.append([s if k % 2 else v for k, v in enumerate(value)])
            return out
        if all(isinstance(v, bool) for v in value):
            return [[not value[0], *value[1:]]]
        if all(isinstance(v, int) for v in value):
            return [value[1:], [v * 2 if v > 1 else v + 1 for v in value]]
        if all(isinstance(v, (int, float)) for v in value):
            return [[v * 2 for v in value]]
    return []


def joint_sample(
    rng: random.Random,
    base: dict[str, Any],
    fields: dict[str, Any],
    strings: dict[str, set[str]],
    alt: dict[str, Any],
) -> dict[str, Any]:
    """A random config near ``base``: widths scaled, counts changed, flags flipped, lists reshuffled."""
    given = copy.deepcopy(base)
    layer_like = [
        p for p, v in fields.items() if isinstance(v, int) and not isinstance(v, bool) and _is_count(p, v)
    ]
    for path in layer_like:
        old = get_path(given, path)
        new = rng.randint(2, min(max(old, 2), 6)) if old > 2 else rng.randint(1, 4)
        set_path(given, path, new)
        _resize_lists(given, path, old, new)
    tied: dict[tuple[str, Any], Any] = {}
    for path, value in fields.items():
        if path in layer_like:
            continue
        cur = get_path(given, path)
        key = (_section(path), value)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value >= 8
            and key in tied
            and rng.random() < 0.5
        ):
            set_path(given, path, tied[key])
            continue
        if isinstance(value, bool):
            if rng.random() < 0.3:
                set_path(given, path, not value)
        elif isinstance(value, int):
            if value >= 8:
                new = value * rng.choice((1, 1, 2, 3, 4)) // rng.choice((1, 1, 2))
                if rng.random() < 0.1:
                    new += rng.randint(1, 7)  # an odd size tells floor from ceiling divisions apart
                set_path(given, path, new)
                tied.setdefault(key, new)
            elif value > 0:
                set_path(given, path, rng.randint(1, value + 3))
            elif value == 0:
                set_path(given, path, rng.choice((0, 0, 1, 2)))
            else:
                set_path(given, path, rng.choice((value, value, value - 1)))
        elif isinstance(value, float):
            if re.search(r"ratio|expand|factor|mult|size|dim", _leaf(path)):
                set_path(given, path, value * rng.choice((1, 1, 1.5, 2)))
        elif value is None:
            if path in alt and rng.random() < 0.5:
                set_path(
                    given,
                    path,
                    alt[path] if not isinstance(alt[path], int) else alt[path] * rng.choice((1, 2, 3)),
                )
        elif isinstance(value, str):
            choices = sorted(strings.get(_leaf(path), set()))
            if choices and rng.random() < 0.3:
                set_path(given, path, rng.choice(choices))
        elif isinstance(cur, list) and cur:
            if all(isinstance(v, str) for v in cur):
                vocab = sorted(
                    set(cur)
                    | strings.get(_leaf(path), set())
                    | (strings.get("layer_types", set()) if _leaf(path).endswith("types") else set())
                )
                if rng.random() < 0.6:
                    set_path(given, path, [rng.choice(vocab) for _ in cur])
            elif all(isinstance(v, bool) for v in cur):
                set_path(given, path, [rng.random() < 0.5 for _ in cur])
            elif all(isinstance(v, int) for v in cur):
                n = _layer_count(given, path)
                if n and max(cur) < max(n, 1) + 1 and len(cur) != n:
                    set_path(given, path, sorted(rng.sample(range(n), rng.randint(0, n))))
                elif rng.random() < 0.5:
                    set_path(given, path, [max(1, v * rng.choice((1, 2))) if v > 0 else v for v in cur])
        elif isinstance(cur, list) and not cur:
            n = _layer_count(given, path)
            if n and rng.random() < 0.5:
                set_path(given, path, sorted(rng.sample(range(n), rng.randint(1, n))))
    return given


def _is_count(path: str, value: int) -> bool:
    leaf = _leaf(path)
    return (
        bool(re.search(r"(^|_)(num_)?(hidden_)?layers?$|^n_layers?$|num_layers|_layers$|depth$", leaf))
        and 0 < value <= 512
    )


def _layer_count(given: dict[str, Any], path: str) -> int | None:
    section = _section(path)
    node = get_path(given, section) if section else given
    for key in ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "decoder_layers", "depth"):
        v = node.get(key) if isinstance(node, dict) else None
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


# ------------------------------------------------------------------------------------------
# the derivation


@dataclass
class Derivation:
    model_type: str
    kind: str
    prober: Prober
    base: Observation
    obs: list[Observation]
    singles: list[tuple[Observation, set[str], str]]  # (observation, resolved paths changed, given path)
    parts: dict[str, str]  # module prefix -> sub-config key
    alt: dict[str, Any]  # a value that builds, for fields null by default


def observe_all(
    model_type: str, kind: str, *, seed: int = 0, joints: int = 28, max_tries: int = 90
) -> Derivation:
    prober = Prober(model_type, kind)
    base = prober.observe(prober.base)
    if base is None:
        raise Unfit("transformers cannot build the default config")
    cfg = prober.config(prober.base)
    parts = sub_models(base.model, cfg)  # type: ignore[attr-defined]
    base.model = None  # type: ignore[attr-defined]
    strings = string_choices(model_type)
    types = {model_type} | {
        v for p, v in flatten(prober.base).items() if p.endswith(".model_type") and isinstance(v, str)
    }
    for t in list(types):
        for sub in ("text", "vision"):
            types.add(f"{t}_{sub}")
    readable = read_fields(types)
    fields = {p: v for p, v in leaves(prober.base).items() if _leaf(p) in readable}
    small = _shrunk(prober, fields)
    singles = []
    alt: dict[str, Any] = {}
    ref = small if small is not None else base
    for path, value in fields.items():
        value = get_path(ref.given, path)
        for cand in single_candidates(path, value, strings):
            given = copy.deepcopy(ref.given)
            set_path(given, path, cand)
            _resize_lists(given, path, value, cand)
            ob = prober.observe(given)
            if ob is None:
                continue
            changed = {
                p for p in set(ob.resolved) | set(ref.resolved) if ob.resolved.get(p) != ref.resolved.get(p)
            }
            if not changed and ob.tensors == ref.tensors:
                continue
            singles.append((ob, changed, path))
            if value is None:
                alt[path] = cand
            break
        else:
            _single_with_twins(prober, ref, fields, path, value, strings, singles)
    rng = random.Random(seed)
    obs = [ref] + [s[0] for s in singles] + ([base] if ref is not base else [])
    got = tries = 0
    while got < joints and tries < max_tries:
        tries += 1
        ob = prober.observe(joint_sample(rng, prober.base, fields, strings, alt))
        if ob is not None:
            obs.append(ob)
            got += 1
    return Derivation(model_type, kind, prober, base, obs, singles, parts, alt)


def _twins(given: dict[str, Any], path: str, value: Any) -> list[str]:
    """Fields of ``path``'s section holding the same number (``head_dim`` and ``qk_rope_head_dim``...)."""
    section = _section(path)
    node = get_path(given, section) if section else given
    if not isinstance(node, dict) or isinstance(value, bool) or not isinstance(value, int) or value < 2:
        return []
    return [
        f"{section}.{k}" if section else k
        for k, v in node.items()
        if k != _leaf(path) and v == value and not isinstance(v, bool) and ok_name(k)
    ]


def _single_with_twins(prober, ref, fields, path, value, strings, singles) -> None:
    """A change transformers refuses alone (fields it keeps equal): change the equal fields with it."""
    twins = _twins(ref.given, path, value)
    if not twins:
        return
    for cand in single_candidates(path, value, strings)[:2]:
        given = copy.deepcopy(ref.given)
        for p in [path, *twins]:
            set_path(given, p, cand)
        ob = prober.observe(given)
        if ob is None:
            continue
        changed = {
            p for p in set(ob.resolved) | set(ref.resolved) if ob.resolved.get(p) != ref.resolved.get(p)
        }
        if changed:
            singles.append((ob, changed, path))
            return


def _shrunk(prober: Prober, fields: dict[str, Any]) -> Observation | None:
    """The default config with at most 4 of every repeated block (fast builds for the one-field changes)."""
    given = copy.deepcopy(prober.base)
    changed = False
    for path, value in fields.items():
        if isinstance(value, int) and not isinstance(value, bool) and _is_count(path, value) and value > 4:
            set_path(given, path, 4)
            _resize_lists(given, path, value, 4)
            changed = True
    if not changed:
        return None
    return prober.observe(given)


def unfaithful(d: Derivation) -> set[str]:
    """Fields transformers overrides whatever the config says (a template must not read them)."""
    out = set()
    for ob in d.obs:
        given = flatten(ob.given)
        for path, value in given.items():
            if value is not None and path in ob.resolved and ob.resolved[path] != value:
                if (
                    isinstance(value, (int, float))
                    and isinstance(ob.resolved[path], (int, float))
                    and value == ob.resolved[path]
                ):
                    continue
                out.add(path)
    return out


def envs_of(d: Derivation) -> list[dict[str, Any]]:
    """The resolved config of every observation.

    A field transformers overrides from others (a wrapper's ``tie_word_embeddings`` becomes true
    when its ``text_config`` says so) is taken as given (or its default when absent): templates
    read what a config.json says, and the rule then combines the fields themselves.
    """
    if not hasattr(d, "_envs"):
        drop = unfaithful(d)
        d.given_only = drop  # type: ignore[attr-defined]
        base = flatten(d.base.given)
        envs = []
        for ob in d.obs:
            given = flatten(ob.given)
            env = dict(ob.resolved)
            for path in drop:
                value = given.get(path)
                env[path] = value if value is not None else base.get(path)
            envs.append(env)
        d._envs = envs  # type: ignore[attr-defined]
    return d._envs  # type: ignore[attr-defined]


def collect_patterns(d: Derivation) -> dict[str, Pattern]:
    """Tensor names grouped into patterns (``*`` for each repeated index).

    # NOTE: an index level that holds the same non-contiguous positions in every build is a
    # fixed module layout (``nn.Sequential(Linear, ReLU, Linear)`` gives ``ffn.0`` and ``ffn.2``),
    # not a repetition: those indices stay literal.
    """
    raw: dict[str, Pattern] = {}
    for k, ob in enumerate(d.obs):
        for name, shape in ob.tensors.items():
            pat, idx = split_name(name)
            p = raw.setdefault(pat, Pattern(pat, len(idx)))
            p.seen.setdefault(k, {})[idx] = shape
    fixed: dict[str, set[int]] = {}
    for pat, p in raw.items():
        levels = set()
        for a in range(p.axes):
            sets = {tuple(sorted({idx[a] for idx in inst})) for inst in p.seen.values()}
            if len(sets) == 1 and len(p.seen) >= 5:
                only = next(iter(sets))
                if only != tuple(range(len(only))) and len(only) <= 8:
                    levels.add(a)
        if levels:
            fixed[pat] = levels
    pats: dict[str, Pattern] = {}
    for k, ob in enumerate(d.obs):
        for name, shape in ob.tensors.items():
            pat, idx = split_name(name)
            if pat in fixed:
                parts, a, kept = name.split("."), 0, []
                for j, part in enumerate(parts):
                    if part.isdigit():
                        if a not in fixed[pat]:
                            parts[j] = "*"
                            kept.append(int(part))
                        a += 1
                pat, idx = ".".join(parts), tuple(kept)
            p = pats.setdefault(pat, Pattern(pat, len(idx)))
            p.seen.setdefault(k, {})[idx] = shape
            if not p.cls:
                p.cls = ob.classes.get(name, "")
    return pats


def _numeric_env(env: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in env.items():
        out[k] = v
        if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            out[f"len({k})"] = len(v)
            if v:
                out[f"sum({k})"] = sum(v)
                out[f"max({k})"] = max(v)
        elif isinstance(v, list):
            out[f"len({k})"] = len(v)
    return out


def deps_for(d: Derivation, changed: callable) -> set[str]:
    """Resolved fields whose single change changed what ``changed(obs)`` looks at."""
    out: set[str] = set()
    for ob, paths, _ in d.singles:
        if changed(ob):
            out |= paths
    return out


def fit_dim(
    envs: list[dict[str, Any]], targets: list[int], deps: set[str], extra: set[str] = frozenset()
) -> str | None:
    atoms = set()
    for dep in deps | set(extra):
        for k in envs[0]:
            if k == dep or k in (f"len({dep})", f"sum({dep})", f"max({dep})"):
                atoms.add(k)
    if len(atoms) > 9:
        return None
    expr = fit_number(envs, targets, atoms)
    if expr is not None:
        return expr
    # a field that is null in some observations: one expression per case
    for dep in sorted(atoms):
        kinds = {e.get(dep) is None for e in envs}
        bools = {e.get(dep) for e in envs if isinstance(e.get(dep), bool)}
        if len(kinds) == 2:
            split = [e.get(dep) is not None for e in envs]
            test = f"{dep} != None"
        elif len(bools) == 2 and all(isinstance(e.get(dep), bool) for e in envs):
            split = [bool(e.get(dep)) for e in envs]
            test = dep
        else:
            continue
        yes = [k for k, s in enumerate(split) if s]
        no = [k for k, s in enumerate(split) if not s]
        rest = atoms - {dep}
        a = fit_number(
            [envs[k] for k in yes], [targets[k] for k in yes], atoms if test.endswith("None") else rest
        )
        b = fit_number([envs[k] for k in no], [targets[k] for k in no], rest)
        if a is not None and b is not None:
            return f"({a}) if {test} else ({b})"
    return None


def derive_pattern(d: Derivation, p: Pattern, envs: list[dict[str, Any]]) -> dict[str, Any]:
    """Shape, repetition and existence of one tensor name pattern."""
    present = sorted(p.seen)
    out: dict[str, Any] = {"name": p.name}
    base_shape = next(iter(p.seen.get(0, p.seen[present[0]]).values()))
    ndim = len(base_shape)
    # --- repeated levels (axes)
    axes = []
    for a in range(p.axes):
        sets = {k: sorted({idx[a] for idx in p.seen[k]}) for k in present}
        # product structure: every combination of the axes' indices exists
        for k in present:
            combos = set(p.seen[k])
            levels = [sorted({idx[b] for idx in combos}) for b in range(p.axes)]
            if len(combos) != len(list(itertools.product(*levels))):
                raise Unfit(f"{p.name}: repeated levels are not independent (per-layer counts?)")
        inst_deps = deps_for(d, lambda ob, k0=0, a=a: _index_set(d, p, ob, a) != _index_set_of(p, 0, a))
        penv = [_numeric_env(envs[k]) for k in present]
        top = [sets[k][-1] + 1 for k in present]
        contiguous = all(sets[k] == list(range(top[j])) for j, k in enumerate(present))
        layerish = {
            k
            for k in penv[0]
            if re.search(r"layers?$|depth$", k) and not k.startswith(("len(", "sum(", "max("))
        }
        count = None
        if contiguous:
            count = fit_dim(penv, top, inst_deps, layerish if not inst_deps else set())
            if count is None:
                count = fit_dim(penv, top, inst_deps | layerish)
        axis: dict[str, Any] = {}
        if count is not None:
            axis["count"] = count
        else:
            axis = _range_with_rule(p, a, present, penv, envs, sets, top, inst_deps, layerish)
        axes.append(axis)
    if axes:
        out["repeat"] = axes
    # --- shape: one expression per dimension
    shape = []
    for dim in range(ndim):
        rows_env, rows_val = [], []
        uniform = True
        for k in present:
            vals = {shape_[dim] for shape_ in p.seen[k].values() if len(shape_) == ndim}
            if len({len(s) for s in p.seen[k].values()}) != 1:
                raise Unfit(f"{p.name}: rank changes between observations")
            if len(vals) != 1:
                uniform = False
            rows_env.append(_numeric_env(envs[k]))
            rows_val.append(next(iter(vals)))
        dim_deps = deps_for(d, lambda ob, dim=dim: _dim_changed(d, p, ob, dim))
        if 0 not in p.seen:
            # absent from the default build: one-field changes say little; use the likeliest inputs
            dim_deps = _correlated(rows_env, rows_val, _values_vary(rows_env, shape_fields(d)))
        expr = None
        if uniform and 0 not in p.seen:
            expr = _reuse(d, p.name, rows_env, rows_val)
        if uniform and expr is None:
            expr = fit_dim(rows_env, rows_val, dim_deps)
            if expr is None:
                expr = fit_dim(rows_env, rows_val, _correlated(rows_env, rows_val, set()))
            if expr is None:
                expr = fit_dim(rows_env, rows_val, dim_deps | _correlated(rows_env, rows_val, dim_deps))
        elif not uniform:
            expr = _fit_per_index(d, p, envs, present, dim, dim_deps)
        if expr is None:
            raise Unfit(
                f"{p.name}: no expression found for dimension {dim} (depends on {sorted(dim_deps)[:6]})"
            )
        shape.append(expr)
    out["shape"] = shape
    known = d.__dict__.setdefault("known_exprs", [])
    for expr in shape:
        known.append((p.name, expr))
    # --- existence
    absent = [k for k in range(len(d.obs)) if k not in p.seen]
    if absent:
        cond = _fit_condition(d, p, envs, out)
        if cond is not None and cond != "True":
            out["when"] = cond
    return out


def _reuse(d: Derivation, name: str, envs: list[dict[str, Any]], values: list[int]) -> str | None:
    """A dimension expression already fitted elsewhere in the model that also fits here (nearest module first)."""
    from planner.model.expr import evaluate

    module = name.rsplit(".", 1)[0]

    def closeness(item: tuple[str, str]) -> int:
        other = item[0].rsplit(".", 1)[0]
        common = 0
        for a, b in zip(module.split("."), other.split("."), strict=False):
            if a != b:
                break
            common += 1
        return -common

    for _, expr in sorted(d.__dict__.get("known_exprs", []), key=closeness):
        try:
            if all(evaluate(expr, lambda n, e=e: e[n]) == v for e, v in zip(envs, values, strict=True)):
                return expr
        except Exception:
            continue
    return None


def _range_with_rule(
    p: Pattern,
    a: int,
    present: list[int],
    penv: list,
    envs: list,
    sets: dict,
    top: list[int],
    deps: set,
    layerish: set,
) -> dict[str, Any]:
    """A level whose indices skip some values: a range field and a rule over the index."""
    ranges = []
    for key in sorted(layerish) + sorted(deps - layerish):
        col = [e.get(key) for e in penv]
        if all(
            isinstance(v, int) and not isinstance(v, bool) and v >= t for v, t in zip(col, top, strict=True)
        ):
            ranges.append(key)
    for key in sorted(penv[0]):
        col = [e.get(key) for e in penv]
        if (
            key not in ranges
            and all(
                isinstance(v, int) and not isinstance(v, bool) and t <= v <= 2 * t + 8
                for v, t in zip(col, top, strict=True)
            )
            and len(set(col)) > 1
        ):
            ranges.append(key)
    best = None
    for key in ranges[:12]:
        if sum(penv[j][key] for j in range(len(present))) > 20_000:
            continue  # a width, not a count of layers
        cells, wanted = [], []
        for j, k in enumerate(present):
            n = penv[j][key]
            for i in range(n):
                cells.append((envs[k], i, n))
                wanted.append(i in sets[k])
        rule = fit_predicate(cells, wanted)
        if rule is not None and (best is None or len(rule) < len(best[1])):
            best = (key, rule)
            if rule == "True" or len(rule) < 30:
                break
    if best is None:
        raise Unfit(f"{p.name}: no rule found for which indices of level {a} exist")
    out = {"count": best[0]}
    if best[1] != "True":
        out["where"] = best[1]
    return out


def shape_fields(d: Derivation) -> set[str]:
    """Fields whose one-field change changed some tensor's shape in the default build."""
    if not hasattr(d, "_shape_fields"):
        out: set[str] = set()
        for ob, paths, _ in d.singles:
            if any(ob.tensors.get(name) not in (None, shape) for name, shape in d.obs[0].tensors.items()):
                out |= paths
        d._shape_fields = out  # type: ignore[attr-defined]
    return d._shape_fields  # type: ignore[attr-defined]


def _values_vary(envs: list[dict[str, Any]], paths: set[str]) -> set[str]:
    return {p for p in paths if len({repr(e.get(p)) for e in envs}) > 1}


def _correlated(envs: list[dict[str, Any]], values: list[int], paths: set[str]) -> set[str]:
    """Of ``paths`` (or every numeric field), the likeliest inputs of a dimension: equal, proportional, dividing."""
    scored = []
    candidates = paths | {k for k in envs[0] if len({repr(e.get(k)) for e in envs}) > 1}
    for p in candidates:
        col = [e.get(p) for e in envs]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in col):
            continue
        ratios = {t / v for v, t in zip(col, values, strict=True)}
        if col == list(values):
            scored.append((0, p))
        elif len(ratios) == 1:
            scored.append((1, p))
        elif all(t % v == 0 for v, t in zip(col, values, strict=True)):
            scored.append((2 if p in paths else 3, p))
        elif p in paths:
            scored.append((4, p))
    return {p for _, p in sorted(scored)[:6]}


def _pos(d: Derivation, ob: Observation) -> int:
    if not hasattr(d, "_positions"):
        d._positions = {id(o): k for k, o in enumerate(d.obs)}  # type: ignore[attr-defined]
    return d._positions[id(ob)]  # type: ignore[attr-defined]


def _index_set_of(p: Pattern, k: int, a: int) -> tuple[int, ...]:
    return tuple(sorted({idx[a] for idx in p.seen.get(k, {})}))


def _index_set(d: Derivation, p: Pattern, ob: Observation, a: int) -> tuple[int, ...]:
    k = _pos(d, ob)
    return _index_set_of(p, k, a)


def _dim_changed(d: Derivation, p: Pattern, ob: Observation, dim: int) -> bool:
    k = _pos(d, ob)
    if k not in p.seen or 0 not in p.seen:
        return k in p.seen or 0 in p.seen
    base, other = p.seen[0], p.seen[k]
    common = set(base) & set(other)
    if not common:
        return {s[dim] for s in base.values()} != {s[dim] for s in other.values()}
    return any(base[i][dim] != other[i][dim] for i in common if len(base[i]) > dim and len(other[i]) > dim)


def _fit_per_index(
    d: Derivation, p: Pattern, envs: list, present: list[int], dim: int, deps: set[str]
) -> str | None:
    """A dimension that differs between layers: a per-layer list entry, or a rule per layer kind."""
    rows_env, rows_val = [], []
    for k in present:
        env = _numeric_env(envs[k])
        for idx, shape in p.seen[k].items():
            e = dict(env)
            e["i"] = idx[0]
            for key, v in envs[k].items():
                if (
                    isinstance(v, list)
                    and len(v) > idx[0]
                    and isinstance(v[idx[0]], (int, str))
                    and not isinstance(v[idx[0]], bool)
                ):
                    e[f"{key}[i]"] = v[idx[0]]
            rows_env.append(e)
            rows_val.append(shape[dim])
    per = {k for k in rows_env[0] if k.endswith("[i]")}
    num_per = {k for k in per if all(isinstance(e.get(k), int) for e in rows_env)}
    expr = (
        fit_number(rows_env, rows_val, (deps | num_per) & set(rows_env[0]))
        if len(deps | num_per) <= 9
        else None
    )
    if expr is not None:
        return expr
    # one expression per value of a per-layer string list (layer kinds)
    for key in sorted(per - num_per):
        groups: dict[str, list[int]] = defaultdict(list)
        for r, e in enumerate(rows_env):
            if not isinstance(e.get(key), str):
                break
            groups[e[key]].append(r)
        else:
            if len(groups) < 2:
                continue
            exprs = {}
            for val, rows in groups.items():
                g_env, g_val = [rows_env[r] for r in rows], [rows_val[r] for r in rows]
                sub = fit_dim(g_env, g_val, deps)
                if sub is None:
                    sub = fit_dim(g_env, g_val, _correlated(g_env, g_val, set()))
                if sub is None:
                    sub = fit_dim(g_env, g_val, deps | _correlated(g_env, g_val, deps))
                if sub is None:
                    break
                exprs[val] = sub
            else:
                vals = sorted(exprs)
                text = f"({exprs[vals[-1]]})"
                for val in reversed(vals[:-1]):
                    text = f"({exprs[val]}) if {key} == {val!r} else {text}"
                return text
    # one expression per side of a rule over the layer index (``i in global_attn_indexes``)
    from scripts.templates.fit import predicate_atoms

    cells = []
    for k in present:
        n = max(idx[0] for idx in p.seen[k]) + 1
        cells.extend((envs[k], idx[0], n) for idx in p.seen[k])
    for atom in sorted(predicate_atoms(cells), key=lambda a: len(a.text))[:60]:
        yes = [r for r, t in enumerate(atom.truth) if t]
        no = [r for r, t in enumerate(atom.truth) if not t]
        if not yes or not no:
            continue
        sides = []
        for rows in (yes, no):
            g_env, g_val = [rows_env[r] for r in rows], [rows_val[r] for r in rows]
            sub = fit_dim(g_env, g_val, deps) or fit_dim(g_env, g_val, _correlated(g_env, g_val, deps))
            if sub is None:
                break
            sides.append(sub)
        else:
            return f"({sides[0]}) if {atom.text} else ({sides[1]})"
    return None


def _fit_condition(d: Derivation, p: Pattern, envs: list, entry: dict[str, Any]) -> str | None:
    from planner.model.expr import evaluate

    cells, wanted = [], []
    for k in range(len(d.obs)):
        env = _numeric_env(envs[k])
        nonempty = True
        try:
            for axis in entry.get("repeat", ()):
                n = evaluate(axis["count"], lambda name, env=env: env[name])
                rule = axis.get("where")
                live = [
                    i
                    for i in range(n)
                    if rule is None
                    or evaluate(
                        rule, lambda name, env=env, i=i, n=n: {"i": i, "n": n}.get(name, env.get(name))
                    )
                ]
                nonempty = nonempty and bool(live)
        except Exception:
            nonempty = True
        if not nonempty:
            if k in p.seen:
                raise Unfit(f"{p.name}: present although its repeat rule gives no instance")
            continue
        cells.append((envs[k], 0, 1))
        wanted.append(k in p.seen)
    if all(wanted):
        return None
    from scripts.templates.fit import fit_condition

    changed = sorted(
        set().union(*(paths for ob, paths, _ in d.singles if (_pos(d, ob) in p.seen) != (0 in p.seen)))
    )
    rule = fit_condition(cells, wanted, changed)
    if rule is None:
        raise Unfit(f"{p.name}: no rule for when it exists (follows {changed[:5]})")
    return rule


def top_k_field(env: dict[str, Any], experts_expr: str) -> str | None:
    """The config field holding the routed experts per token, next to the experts count field."""
    from planner.model.expr import names

    sections = {_section(n) for n in names(experts_expr)} or {""}
    for section in sorted(sections):
        for name in TOP_K_NAMES:
            path = f"{section}.{name}" if section else name
            if isinstance(env.get(path), int) and not isinstance(env.get(path), bool):
                return path
    return None


def _unused_derive(model_type: str, kind: str, **kw: Any) -> dict[str, Any]:
    """The template of ``model_type`` built through ``kind`` (``causal``/``image_text``/``base``)."""
    d = observe_all(model_type, kind, **kw)
    envs = envs_of(d)
    pats = collect_patterns(d)
    entries = []
    for pat in sorted(pats.values(), key=lambda p: (p.name.count("*"), p.name)):
        entry = derive_pattern(d, pat, envs)
        part = part_of(pat.name, d.parts)
        entry["part"] = part
        role, fused = classify(pat.name, pat.cls, part, list(entry["shape"]))
        entry["role"] = role
        if role.startswith("expert_"):
            if fused:
                count = entry["shape"][0]
                entry["shape"] = entry["shape"][1:]
                entry["experts"] = {"count": count, "top_k": top_k_field(d.base.resolved, count)}
            elif ".experts.*" in pat.name:
                axis = pat.name.split(".experts.*")[0].count("*")
                count = entry["repeat"][axis]["count"]
                entry["experts"] = {"axis": axis, "top_k": top_k_field(d.base.resolved, count)}
        entries.append(entry)
    return assemble(d, entries, envs)


def part_of(name: str, parts: dict[str, str]) -> str:
    for prefix, key in sorted(parts.items(), key=lambda kv: -len(kv[0])):
        if name == prefix or name.startswith(prefix + "."):
            if key in ("text_config", "decoder", "language_config", "llm_config", "text_decoder_config"):
                return "text"
            if "audio" in key:
                return "audio"
            if "vision" in key or key in ("encoder", "vq_config", "high_res_vision_config"):
                return "vision"
            return "projector"
    if name.split(".")[0] in ("lm_head", "output", "lm_heads") or name.startswith(
        ("lm_head.", "model.lm_head")
    ):
        return "text"
    if any(key in ("text_config",) for key in parts.values()):
        # the language model is a sub-model: whatever sits beside it belongs to the multimodal side
        lowered = name.lower()
        if re.search(r"vision|visual|image|patch|vit|siglip|clip", lowered):
            return "vision"
        if re.search(r"audio|speech|whisper", lowered):
            return "audio"
        return "projector"
    lowered = name.lower()
    if re.search(
        r"(^|\.)(vision|visual|image_encoder|vision_model|vision_tower|image_tower|video_tower|vision_embed|patch_embed)",
        lowered,
    ):
        return "vision"
    if re.search(r"(^|\.)(audio|speech)", lowered):
        return "audio"
    if re.search(
        r"projector|connector|merger|aligner|adapter|resampler|perceiver|qformer|query_tokens|multi_modal|image_newline",
        lowered,
    ):
        return "projector"
    return "text"


def assemble(d: Derivation, entries: list[dict[str, Any]], envs: list[dict[str, Any]]) -> dict[str, Any]:
    import transformers

    from planner.model.expr import names

    used: set[str] = set()
    for e in entries:
        for text in [*e["shape"], e.get("when", "True")] + [
            v for a in e.get("repeat", ()) for v in a.values()
        ]:
            used |= names(text)
        if "experts" in e:
            used |= names(e["experts"]["count"])
            if e["experts"].get("top_k"):
                used.add(e["experts"]["top_k"])
    used -= {"i", "n"}
    used = {u for u in used if not u.startswith(("len(", "sum(", "max("))}
    used = {u[4:-1] if u.startswith("len(") else u for u in used}
    text_key = next((k for k in d.parts.values() if k == "text_config"), "")
    text_prefix = next((p for p, k in d.parts.items() if k == text_key), "") if text_key else ""
    section = f"{text_key}." if text_key else ""
    layer_fields = {f"{section}{f}" for f in LAYER_FIELDS if f"{section}{f}" in d.base.resolved}
    fields = sorted(used | layer_fields)
    config = resolution(d, fields)
    sub_types = {}
    for path, value in d.base.resolved.items():
        if path.endswith(".model_type"):
            sub_types[path[: -len(".model_type")]] = value
    text_layers = _text_layer_count(entries)
    return {
        "model_type": d.model_type,
        "kind": d.kind,
        "class": d.prober.auto.__name__,
        "source": f"transformers {transformers.__version__}: built on the meta device from the default config, "
        f"{len(d.singles)} one-field changes and {len(d.obs) - 1 - len(d.singles)} random joint changes "
        "(scripts/derive_templates.py)",
        "sub_configs": sub_types,
        "text_config": text_key,
        "text_prefix": text_prefix,
        "text_layers": text_layers,
        "sub_prefixes": {
            key: sorted(p for p, k in d.parts.items() if k == key) for key in sorted(set(d.parts.values()))
        },
        "config": config,
        "tensors": entries,
    }


def _text_layer_count(entries: list[dict[str, Any]]) -> str | None:
    counts: dict[str, int] = defaultdict(int)
    for e in entries:
        if (e["part"] == "text" and e.get("repeat") and ".layers.*" in f".{e['name']}") or (
            e["part"] == "text"
            and e.get("repeat")
            and re.search(r"(^|\.)(layers|h|blocks|layer)\.\*", e["name"])
        ):
            counts[e["repeat"][0]["count"]] += 1
    return max(counts, key=counts.get) if counts else None


# ------------------------------------------------------------------------------------------
# config resolution: defaults, derived defaults, nulls, aliases


def resolution(d: Derivation, fields: list[str]) -> dict[str, Any]:
    prober = d.prober
    givens = [d.base.given, *[ob.given for ob in d.obs[1 + len(d.singles) :]][:12]]
    out: dict[str, Any] = {}
    for path in fields:
        rule: dict[str, Any] = {}
        if path not in d.base.resolved:
            rule["default"] = None
            out[path] = rule
            continue
        base_val = d.base.resolved[path]
        if path in getattr(d, "given_only", ()):
            out[path] = {"default": flatten(d.base.given).get(path), "null": "default"}
            continue
        omitted = []
        for g in givens:
            g2 = copy.deepcopy(g)
            del_path(g2, path)
            r = prober.resolve(g2)
            if r is not None and path in r:
                omitted.append((r, r[path]))
        values = [v for _, v in omitted]
        if not values:
            rule["default"] = base_val
        elif all(v == values[0] for v in values):
            rule["default"] = values[0]
        else:
            derived = _fit_derived(d, path, omitted)
            if derived is None:
                rule["default"] = base_val
                rule["note"] = (
                    "transformers derives it from other fields in a way not captured: give it explicitly"
                )
                rule["required"] = True
            else:
                rule.update(derived)
        g2 = copy.deepcopy(d.base.given)
        if has_path(g2, path):
            set_path(g2, path, None)
            r = prober.resolve(g2)
            g3 = copy.deepcopy(d.base.given)
            del_path(g3, path)
            r3 = prober.resolve(g3)
            if r is not None and r3 is not None and r.get(path) == r3.get(path):
                rule["null"] = "default"
        out[path] = rule
    aliases = {}
    cfg = prober.config(prober.base)
    for section in ["", *sorted({_section(p) for p in fields if "." in p})]:
        obj = cfg
        for part in section.split(".") if section else ():
            obj = getattr(obj, part, None)
        amap = getattr(type(obj), "attribute_map", None) if obj is not None else None
        if amap:
            aliases[section] = dict(amap)
        legacy = _legacy_aliases(d, section, obj, {p for p in fields if _section(p) == section})
        if legacy:
            aliases.setdefault(section, {}).update(legacy)
    return {"fields": out, "aliases": aliases}


def _legacy_aliases(d: Derivation, section: str, obj: Any, fields: set[str]) -> dict[str, str]:
    """Older spellings transformers still accepts and copies into a field (``num_experts`` -> ``n_routed_experts``).

    Read from the config class's source (``kwargs.pop("name")`` / ``kwargs.get("name")``) and kept
    only when setting the old name to a distinctive value makes exactly one field take that value.
    """
    import inspect

    if obj is None:
        return {}
    try:
        source = inspect.getsource(type(obj))
    except (OSError, TypeError):
        return {}
    names = set(re.findall(r"kwargs\.(?:pop|get)\(\s*[\"'](\w+)[\"']", source))
    out = {}
    marker = 12_347
    for name in sorted(names):
        if name in ("torch_dtype", "dtype") or (f"{section}.{name}" if section else name) in d.base.resolved:
            continue
        given = copy.deepcopy(d.base.given)
        set_path(given, f"{section}.{name}" if section else name, marker)
        r = d.prober.resolve(given)
        if r is None:
            continue
        hits = [p for p in fields if r.get(p) == marker]
        if len(hits) == 1:
            out[name] = _leaf(hits[0])
    return out


def _fit_derived(
    d: Derivation, path: str, omitted: list[tuple[dict[str, Any], Any]]
) -> dict[str, Any] | None:
    envs = [_numeric_env({k: v for k, v in r.items() if k != path}) for r, _ in omitted]
    values = [v for _, v in omitted]
    section = _section(path)
    same = [k for k in envs[0] if _section(k.replace("len(", "").replace(")", "")) == section]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        varying = [k for k in same if len({repr(e.get(k)) for e in envs}) > 1]
        deps = _derived_deps(d, path)
        atoms = [k for k in varying if k in deps or any(k == f"len({x})" for x in deps)]
        if len(atoms) <= 9:
            expr = fit_number(envs, values, atoms)
            if expr is not None:
                return {"derived": expr}
        return None
    if all(isinstance(v, list) for v in values):
        length = fit_number(envs, [len(v) for v in values], [k for k in same if re.search(r"layers?$", k)])
        if length is None:
            return None
        cells, items = [], []
        for r, v in omitted:
            for i, item in enumerate(v):
                cells.append((r, i, len(v)))
                items.append(item)
        distinct = sorted({repr(x) for x in items})
        if len(distinct) == 1:
            return {"derived_list": {"length": length, "item": distinct[0]}}
        if len(distinct) > 3:
            return None
        # a chain "A if rule else B" over the layer index
        order = sorted(set(items), key=lambda x: -items.count(x))
        default = order[0]
        text = repr(default)
        for val in order[1:]:
            rule = fit_predicate(cells, [x == val for x in items])
            if rule is None:
                return None
            text = f"{val!r} if {rule} else ({text})"
        return {"derived_list": {"length": length, "item": text}}
    return None


def _derived_deps(d: Derivation, path: str) -> set[str]:
    """Fields that change ``path``'s derived value when ``path`` itself is absent (config-only builds)."""
    base = copy.deepcopy(d.base.given)
    del_path(base, path)
    r0 = d.prober.resolve(base)
    if r0 is None:
        return set()
    out = set()
    for p, value in leaves(d.prober.base).items():
        if p == path or _section(p) != _section(path):
            continue
        for cand in single_candidates(p, value, {})[:2]:
            g = copy.deepcopy(base)
            set_path(g, p, cand)
            _resize_lists(g, p, value, cand)
            r = d.prober.resolve(g)
            if r is None:
                continue
            if r.get(path) != r0.get(path):
                out.add(p)
            break
    return out


def json_ready(template: dict[str, Any]) -> dict[str, Any]:
    return json_clean(template)


__all__ = ["Unfit", "classify", "is_sub_config", "ok_name"]
