"""Which models and formats a recommendation considers: family, license, context, bit width,
modality, dense or MoE (the engine is chosen in :func:`planner.recommend.recommend`).

Filters only narrow the candidates; they never change a figure. A filter that matches nothing
is an error that lists the valid values (a typo should not silently empty the table).
"""

from __future__ import annotations

import re

from planner.catalog import load_catalog
from planner.errors import PlannerError
from planner.formats import QuantFormat
from planner.frozen import record
from planner.memo import per_object
from planner.model.spec import ModelSpec, Role

_GGUF_WIDTH = re.compile(r"i?q(\d)")
#: The bit widths the answer is laid out by (the per-width table's rows).
BIT_WIDTHS = (16, 8, 6, 5, 4, 3, 2)
#: ``modality(spec)`` values: text only, or images and text in (a vision tower is part of the model).
MODALITIES = ("text", "vision")
#: ``architecture(spec)`` values.
ARCHITECTURES = ("dense", "moe")


class RecommendError(PlannerError):
    """A recommendation question that cannot be answered (an unknown family, license or benchmark)."""


@record
class Filters:
    """What the user narrowed the catalog to. Empty tuples and ``None`` mean "no filter".

    ``families`` match the catalog's ``family`` (the config's ``model_type``) exactly, or as a
    prefix when nothing matches exactly ("qwen" means qwen2, qwen3 and qwen3_moe). ``licenses``
    match the catalog's ``license`` id exactly (case-insensitive). ``min_context`` keeps models
    whose ``max_position_embeddings`` is at least that many tokens. ``bit_widths`` keeps formats
    of those nominal widths (:func:`bit_width`); ``modalities`` ("text", "vision") and
    ``architectures`` ("dense", "moe") keep models of those kinds.
    """

    families: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()
    min_context: int | None = None
    bit_widths: tuple[int, ...] = ()
    modalities: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_context is not None and (
            isinstance(self.min_context, bool)
            or not isinstance(self.min_context, int)
            or self.min_context < 1
        ):
            raise RecommendError(
                f"the minimum context must be a positive number of tokens, not {self.min_context!r}"
            )
        for width in self.bit_widths:
            if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= 32:
                raise RecommendError(f"bit width must be a whole number of bits (e.g. 4), not {width!r}")
        _check_choice("modality", self.modalities, MODALITIES)
        _check_choice("architecture", self.architectures, ARCHITECTURES)

    def describe(self) -> tuple[str, ...]:
        """The active filters in words (empty when none)."""
        out = []
        if self.families:
            out.append(f"family: {', '.join(self.families)}")
        if self.licenses:
            out.append(f"license: {', '.join(self.licenses)}")
        if self.min_context is not None:
            out.append(f"max context at least {self.min_context:,} tokens")
        if self.bit_widths:
            out.append(
                f"bit width: {', '.join(f'{w}-bit' for w in sorted(set(self.bit_widths), reverse=True))}"
            )
        if self.modalities:
            out.append(f"modality: {', '.join(self.modalities)}")
        if self.architectures:
            out.append(f"architecture: {', '.join(a if a == 'dense' else 'MoE' for a in self.architectures)}")
        return tuple(out)


def _check_choice(name: str, values: tuple[str, ...], valid: tuple[str, ...]) -> None:
    for value in values:
        if value not in valid:
            raise RecommendError(f"unknown {name} '{value!s:.40}'; valid: {', '.join(valid)}")


@per_object()
def modality(spec: ModelSpec) -> str:
    """``"vision"`` when the model carries a vision tower or projector (images and text in), else ``"text"``."""
    return "vision" if any(t.role in (Role.VISION, Role.PROJECTOR) for t in spec.tensors) else "text"


def architecture(spec: ModelSpec) -> str:
    """``"moe"`` when tokens are routed to experts, else ``"dense"``."""
    return "moe" if spec.is_moe else "dense"


def catalog_families() -> tuple[str, ...]:
    """Every family in the catalog, sorted."""
    return tuple(sorted({e.family for e in load_catalog().values()}))


def catalog_licenses() -> tuple[str, ...]:
    """Every license id in the catalog, sorted (entries without one are left out)."""
    return tuple(sorted({e.license for e in load_catalog().values() if e.license}))


def resolve_families(wanted: tuple[str, ...], extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The families ``wanted`` names (exact, else prefix); :class:`RecommendError` when one names none.

    Known families are the catalog's plus ``extra`` (those of Hub models added to the comparison).
    """
    known = tuple(sorted({*catalog_families(), *extra}))
    out: set[str] = set()
    for raw in wanted:
        key = raw.strip().lower()
        exact = [f for f in known if f.lower() == key]
        hits = exact or [f for f in known if key and f.lower().startswith(key)]
        if not hits:
            raise RecommendError(f"no model considered has family '{raw:.40}'; families: {', '.join(known)}")
        out.update(hits)
    return frozenset(out)


def resolve_licenses(wanted: tuple[str, ...]) -> frozenset[str]:
    """The catalog license ids ``wanted`` names (case-insensitive); :class:`RecommendError` when one names none."""
    known = catalog_licenses()
    out: set[str] = set()
    for raw in wanted:
        hits = [lic for lic in known if lic.lower() == raw.strip().lower()]
        if not hits:
            raise RecommendError(f"no catalog model has license '{raw:.40}'; licenses: {', '.join(known)}")
        out.update(hits)
    return frozenset(out)


def model_exclusion(
    family: str,
    license_: str | None,
    spec: ModelSpec,
    context: int,
    filters: Filters,
    families: frozenset[str],
    licenses: frozenset[str],
) -> str | None:
    """Why a model is left out of a recommendation at ``context`` tokens, or ``None`` to keep it.

    A model whose ``max_position_embeddings`` is below the context asked cannot attend that far,
    so it is left out whatever its memory (the memory estimate alone would call it a fit).
    """
    if families and family not in families:
        return f"family {family} is filtered out"
    if licenses and license_ not in licenses:
        return f"license {license_ or 'not recorded'} is filtered out"
    if filters.modalities and modality(spec) not in filters.modalities:
        return f"modality {modality(spec)} is filtered out"
    if filters.architectures and architecture(spec) not in filters.architectures:
        return f"architecture {architecture(spec)} is filtered out"
    limit = spec.max_position_embeddings
    if filters.min_context is not None:
        if limit is None:
            return "its config states no max_position_embeddings, so the minimum context cannot be checked"
        if limit < filters.min_context:
            return f"max_position_embeddings {limit:,} is below the minimum context {filters.min_context:,}"
    if limit is not None and limit < context:
        return f"max_position_embeddings {limit:,} is below the context asked ({context:,} tokens)"
    return None


def bit_width(fmt: QuantFormat) -> int:
    """The format's nominal bit class, as quality tables name it (Q4_K_M is 4-bit, Q8_0 8-bit, bf16 16-bit).

    GGUF types carry their class in the name (block scales make ``nominal_bits`` 4.5 for Q4_K_M,
    6.0 for Q5_1); every other format's class is its whole nominal bits (EXL2 at 4.65 bpw is 4).
    """
    if fmt.family == "gguf":
        match = _GGUF_WIDTH.match(fmt.id.lower())
        if match:
            return int(match.group(1))
        if fmt.id.lower().startswith("mxfp4"):
            return 4
    return int(fmt.nominal_bits)


__all__ = [
    "ARCHITECTURES",
    "BIT_WIDTHS",
    "MODALITIES",
    "Filters",
    "RecommendError",
    "architecture",
    "bit_width",
    "catalog_families",
    "catalog_licenses",
    "modality",
    "model_exclusion",
    "resolve_families",
    "resolve_licenses",
]
