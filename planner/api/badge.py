"""The fit badge: one plan's verdict as a small SVG for model cards and READMEs.

``Llama-3.1-8B q4_k_m | fits RTX 4090 · 17.1 GiB free`` (green) or ``... | does not fit RTX 4090 ·
short 3.2 GiB`` (red): the figures are the planner's (:class:`~planner.fit.solvers.FitResult`
headroom over all cards), memory in GiB (2^30 bytes). Every text is XML-escaped; the text's drawn
width is pinned with ``textLength``, so the badge keeps its layout whatever font the viewer has.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from planner.fit.answer import FitAnswer
from planner.hardware.units import GIB
from planner.request import ResolvedPlan

GREEN, RED, GREY, DARK = "#2f6f4f", "#b03a2e", "#555", "#7a7a7a"
_HEIGHT = 20
_PAD = 6
#: Approximate advance widths of Verdana at 11 px (what badges are drawn with), by character class.
_NARROW = set("fijlrtI!.,:;|'`()[]· ")
_WIDE = set("mwMW@%")


def text_width(text: str) -> int:
    """Pixels ``text`` takes in 11 px Verdana, approximately (pinned in the SVG with ``textLength``)."""
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 3.9
        elif ch in _WIDE:
            width += 10.0
        elif ch.isupper() or ch.isdigit():
            width += 7.5
        else:
            width += 6.6
    return round(width)


@dataclass(frozen=True)
class Badge:
    left: str
    right: str
    color: str
    link: str | None = None
    title: str | None = None

    def svg(self) -> str:
        """The badge as a standalone SVG document (escaped text; the link, when given, wraps it)."""
        lw, rw = text_width(self.left) + 2 * _PAD, text_width(self.right) + 2 * _PAD
        total = lw + rw
        title = escape(self.title or f"{self.left} | {self.right}")
        # Ids unique per badge: a page that inlines several badges shares one id space.
        uid = hashlib.sha1(f"{self.left}|{self.right}|{self.color}".encode()).hexdigest()[:8]
        body = (
            f'<linearGradient id="s{uid}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
            f'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
            f'<clipPath id="r{uid}"><rect width="{total}" height="{_HEIGHT}" rx="3" fill="#fff"/></clipPath>'
            f'<g clip-path="url(#r{uid})"><rect width="{lw}" height="{_HEIGHT}" fill="{GREY}"/>'
            f'<rect x="{lw}" width="{rw}" height="{_HEIGHT}" fill="{self.color}"/>'
            f'<rect width="{total}" height="{_HEIGHT}" fill="url(#s{uid})"/></g>'
            f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
            f'font-size="11">'
            f'<text x="{lw / 2}" y="14" textLength="{lw - 2 * _PAD}" lengthAdjust="spacingAndGlyphs">'
            f"{escape(self.left)}</text>"
            f'<text x="{lw + rw / 2}" y="14" textLength="{rw - 2 * _PAD}" lengthAdjust="spacingAndGlyphs">'
            f"{escape(self.right)}</text></g>"
        )
        if self.link:
            body = f'<a xlink:href={quoteattr(self.link)} target="_blank">{body}</a>'
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{total}" height="{_HEIGHT}" role="img" aria-label={quoteattr(title)}>'
            f"<title>{title}</title>{body}</svg>"
        )


def short_gpu_name(name: str) -> str:
    """``NVIDIA GeForce RTX 4090`` -> ``RTX 4090`` (the vendor words badges have no room for)."""
    for prefix in ("NVIDIA GeForce ", "NVIDIA ", "AMD Radeon ", "AMD ", "Apple "):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def fit_badge(plan: ResolvedPlan, answer: FitAnswer, link: str | None = None) -> Badge:
    """The badge of a plan with a GPU budget."""
    budget = plan.budget
    assert budget is not None
    if budget.gpu is not None:
        where = short_gpu_name(budget.gpu.name)
    else:
        where = f"{budget.devices[0].capacity_bytes / GIB:.1f} GiB GPU"
    if budget.count > 1:
        where = f"{budget.count} x {where}"
    model = plan.spec.name.rsplit("/", 1)[-1]
    left = f"{model} {plan.format.id}"
    fit = answer.fit
    if fit.fits:
        right = f"fits {where} · {fit.headroom_bytes / GIB:.1f} GiB free"
        color = GREEN
    else:
        short = max(-fit.headroom_bytes, 0) / GIB
        right = f"does not fit {where}" + (f" · short {short:.1f} GiB" if short > 0 else "")
        color = RED
    title = (
        f"{plan.spec.name}, {plan.format.id} on {plan.engine}, context {plan.settings.context:,} x batch "
        f"{plan.settings.batch}: {fit.headroom_text()} (GiB = 2^30 bytes; VRAM Planner)"
    )
    return Badge(left, right, color, link, title)


def error_badge(message: str) -> Badge:
    """A badge that says why no verdict could be drawn (the parameter the message names)."""
    text = message if len(message) <= 80 else message[:79] + "…"
    return Badge("VRAM Planner", text, DARK, None, message)
