"""Dashboard figures: volumes, open versus closed, response times against the SLA, loop
closure, and clusters of similar rumours. Charts are server-side SVG from pygal (no CDN)."""

from __future__ import annotations

import re
import statistics
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pygal
import sqlalchemy as sa
from pygal.style import Style
from sqlalchemy import select

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    Contact,
    Direction,
    FeedbackType,
    Message,
)

# pygal appends a legacy import finder for its map plugins (unused here); every later failed
# import then raises an ImportWarning, so take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

CHART_STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#000000",
    foreground_subtle="#444444",
    colors=("#1f5fa8", "#b3401f", "#2c7a3f", "#7a4f9e", "#8a6d00", "#00707a", "#9e2a5f"),
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=16,
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)


def render_chart(chart: pygal.graph.graph.Graph) -> str:
    """SVG markup for inline use: no tooltips script (CSP forbids inline script anyway)."""
    svg = chart.render(is_unicode=True)
    return _SCRIPT.sub("", svg)


def _chart(kind: type, title: str, **config: object) -> pygal.graph.graph.Graph:
    options: dict[str, object] = {
        "title": title,
        "style": CHART_STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "height": 320,
        "width": 640,
        "show_legend": kind is pygal.Pie,
        "print_values": False,
    }
    options.update(config)
    return kind(**options)


def bar_chart(title: str, counts: dict[str, int], label: str) -> str:
    chart = _chart(pygal.HorizontalBar, title, show_legend=False)
    chart.x_labels = list(counts.keys())
    chart.add(label, list(counts.values()))
    return render_chart(chart)


def line_chart(title: str, counts: dict[str, int], label: str) -> str:
    chart = _chart(pygal.Line, title, x_label_rotation=30)
    chart.x_labels = list(counts.keys())
    chart.add(label, list(counts.values()))
    return render_chart(chart)


def pie_chart(title: str, counts: dict[str, int]) -> str:
    chart = _chart(pygal.Pie, title, inner_radius=0.45)
    for name, value in counts.items():
        chart.add(name, value)
    return render_chart(chart)


def _base(since: datetime, operation_ids: list[int] | None) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = [Case.created_at >= since]
    if operation_ids is not None:
        clauses.append(Case.operation_id.in_(operation_ids))
    return clauses


def count_by(
    column: sa.ColumnElement[object], clauses: list[sa.ColumnElement[bool]]
) -> dict[str, int]:
    rows = db.session.execute(
        select(column, sa.func.count(Case.id))
        .where(*clauses)
        .group_by(column)
        .order_by(sa.func.count(Case.id).desc())
    )
    return {str(getattr(k, "value", k) or "—"): int(n) for k, n in rows}


def count_by_area(clauses: list[sa.ColumnElement[bool]]) -> dict[str, int]:
    rows = db.session.execute(
        select(Contact.area, sa.func.count(Case.id))
        .join(Contact, Contact.id == Case.contact_id)
        .where(*clauses)
        .group_by(Contact.area)
        .order_by(sa.func.count(Case.id).desc())
        .limit(20)
    )
    return {str(k or "—"): int(n) for k, n in rows}


def count_by_week(clauses: list[sa.ColumnElement[bool]]) -> dict[str, int]:
    if db.engine.dialect.name == "postgresql":
        week = sa.func.to_char(sa.func.date_trunc("week", Case.created_at), 'IYYY-"W"IW')
    else:
        week = sa.func.strftime("%Y-W%W", Case.created_at)
    rows = db.session.execute(
        select(week, sa.func.count(Case.id)).where(*clauses).group_by(week).order_by(week)
    )
    return {str(k): int(n) for k, n in rows}


@dataclass(frozen=True)
class SectorTiming:
    sector: str
    cases: int
    median_first_response_h: float | None
    median_close_h: float | None
    sla_h: float | None
    within_sla: float | None  # share of responded cases answered before due_at


def timings(clauses: list[sa.ColumnElement[bool]], limit: int = 50_000) -> list[SectorTiming]:
    rows = db.session.execute(
        select(Case.sector, Case.created_at, Case.first_response_at, Case.closed_at, Case.due_at)
        .where(*clauses)
        .limit(limit)
    )
    grouped: dict[str, list[tuple[datetime, datetime | None, datetime | None, datetime | None]]]
    grouped = defaultdict(list)
    for sector, created, first, closed, due in rows:
        grouped[sector or "—"].append((created, first, closed, due))
    result = []
    for sector, items in sorted(grouped.items(), key=lambda kv: -len(kv[1])):
        first_h = [(f - c).total_seconds() / 3600 for c, f, _cl, _d in items if f]
        close_h = [(cl - c).total_seconds() / 3600 for c, _f, cl, _d in items if cl]
        sla_h = [(d - c).total_seconds() / 3600 for c, _f, _cl, d in items if d]
        answered = [(f, d) for _c, f, _cl, d in items if f and d]
        result.append(
            SectorTiming(
                sector,
                len(items),
                round(statistics.median(first_h), 1) if first_h else None,
                round(statistics.median(close_h), 1) if close_h else None,
                round(statistics.median(sla_h), 1) if sla_h else None,
                round(sum(f <= d for f, d in answered) / len(answered), 2) if answered else None,
            )
        )
    return result


def loop_closure_rate(clauses: list[sa.ColumnElement[bool]]) -> tuple[int, int]:
    """(closed cases where the person got a response, closed cases)."""
    closed = [*clauses, Case.status == CaseStatus.CLOSED]
    total = db.session.scalar(select(sa.func.count(Case.id)).where(*closed)) or 0
    answered = (
        db.session.scalar(
            select(sa.func.count(Case.id)).where(*closed, Case.first_response_at.is_not(None))
        )
        or 0
    )
    return int(answered), int(total)


_WORD = re.compile(r"\w+", re.U)
_STOP = (
    "the a an is are to of and in on for that this it they we you i be will there "
    "le la les un une des de du et est sont pour que qui il elle ils nous vous "
    "el los las y en que por con se es son al lo "
    "li yo ki nan ak pou se pa mwen nou ou sou "
    "في من على أن إلى هذا هذه"
)
STOPWORDS = frozenset(_STOP.split())


def _tokens(text: str) -> frozenset[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return frozenset(w for w in _WORD.findall(folded) if len(w) > 2 and w not in STOPWORDS)


@dataclass
class RumourCluster:
    example: str
    sector: str | None
    case_ids: list[int] = field(default_factory=list)
    contact_ids: set[int] = field(default_factory=set)
    words: Counter[str] = field(default_factory=Counter)

    @property
    def size(self) -> int:
        return len(self.case_ids)

    @property
    def keywords(self) -> list[str]:
        return [w for w, _n in self.words.most_common(5)]


def rumour_clusters(
    clauses: list[sa.ColumnElement[bool]],
    *,
    limit: int = 2000,
    threshold: float = 0.3,
    top: int = 5,
) -> list[RumourCluster]:
    """Group recent rumour messages whose words overlap (Jaccard), biggest groups first."""
    rows = db.session.execute(
        select(Message.body, Case.id, Case.contact_id, Case.sector)
        .join(Case, Case.id == Message.case_id)
        .where(
            *clauses,
            Case.feedback_type == FeedbackType.RUMOUR,
            Case.sensitive_category.is_(None),
            Message.direction == Direction.IN,
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    clusters: list[tuple[frozenset[str], RumourCluster]] = []
    seen_cases: set[int] = set()
    for body, case_id, contact_id, sector in rows:
        if case_id in seen_cases:
            continue
        seen_cases.add(case_id)
        words = _tokens(body or "")
        if not words:
            continue
        best, best_score = None, 0.0
        for index, (centre, _cluster) in enumerate(clusters):
            score = len(words & centre) / len(words | centre)
            if score > best_score:
                best, best_score = index, score
        if best is not None and best_score >= threshold:
            centre, cluster = clusters[best]
            clusters[best] = (centre | words if len(centre) < 30 else centre, cluster)
        else:
            cluster = RumourCluster(example=body, sector=sector)
            clusters.append((words, cluster))
        cluster.case_ids.append(case_id)
        cluster.contact_ids.add(contact_id)
        cluster.words.update(words)
    ranked = sorted((c for _w, c in clusters), key=lambda c: -c.size)
    return [c for c in ranked if c.size >= 1][:top]


@dataclass(frozen=True)
class Dashboard:
    days: int
    by_sector: dict[str, int]
    by_type: dict[str, int]
    by_week: dict[str, int]
    by_area: dict[str, int]
    open_count: int
    closed_count: int
    timings: list[SectorTiming]
    loop_answered: int
    loop_closed: int
    rumours: list[RumourCluster]
    sensitive_by_category: dict[str, int] | None


def build_dashboard(*, days: int, operation_ids: list[int] | None, sensitive: bool) -> Dashboard:
    """Figures over non-sensitive cases; sensitive ones only as counts, when asked for."""
    since = utcnow() - timedelta(days=days)
    clauses = [*_base(since, operation_ids), Case.sensitive_category.is_(None)]
    open_count = db.session.scalar(
        select(sa.func.count(Case.id)).where(*clauses, Case.status.in_(OPEN_STATUSES))
    )
    closed_count = db.session.scalar(
        select(sa.func.count(Case.id)).where(*clauses, Case.status == CaseStatus.CLOSED)
    )
    answered, closed = loop_closure_rate(clauses)
    return Dashboard(
        days=days,
        by_sector=count_by(Case.sector, clauses),
        by_type=count_by(Case.feedback_type, clauses),
        by_week=count_by_week(clauses),
        by_area=count_by_area(clauses),
        open_count=int(open_count or 0),
        closed_count=int(closed_count or 0),
        timings=timings(clauses),
        loop_answered=answered,
        loop_closed=closed,
        rumours=rumour_clusters(clauses),
        sensitive_by_category=(
            count_by(
                Case.sensitive_category,
                [*_base(since, operation_ids), Case.sensitive_category.is_not(None)],
            )
            if sensitive
            else None
        ),
    )
