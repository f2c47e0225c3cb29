"""The report's figures, drawn by plotly (plotly.js is embedded once in the page, so it
works offline).  Every figure gets already-reduced data (report.py aggregates): no figure
holds more than ``report.BAR_LIMIT`` tries' bars or ``report.MAX_BINS`` points per series,
whatever the size of the run, so the page renders the same for 100 jobs or 100,000.
"""

from __future__ import annotations

from . import report
from .report import PHASE_LABELS, PHASES, ReportData

COLORS = {
    "queued": "#d5dae1",
    "running": "#97a3b3",
    "aux": "#8e6cc0",
    "stage_in": "#3b82c4",
    "task": "#2e9e5b",
    "stage_out": "#e08a2c",
    "post": "#d9b92f",
}
FAILED = "#c62828"
PROTOCOL_COLORS = (
    "#3b82c4",
    "#e08a2c",
    "#2e9e5b",
    "#8e6cc0",
    "#c62828",
    "#17a2b8",
    "#7f6a3d",
    "#d63384",
    "#6c757d",
)
CONFIG = {"displaylogo": False, "responsive": True}
AXIS_TIME = "seconds since the run started"


def plotly_script() -> str:
    """plotly.js, inline: the page must work without a network."""
    from plotly.offline import get_plotlyjs

    return '<script type="text/javascript">%s</script>' % get_plotlyjs()


def _go():
    import plotly.graph_objects as go

    return go


class Figures:
    """Each method returns the HTML of one figure (a div and its script), or a line saying
    why there is none; ``count`` is how many figures were drawn."""

    def __init__(self, data: ReportData):
        self.data = data
        self.count = 0

    def _html(self, fig, name: str, height: int) -> str:
        fig.update_layout(
            template="plotly_white",
            height=height,
            margin={"l": 60, "r": 30, "t": 50, "b": 50},
            font={"size": 12},
        )
        self.count += 1
        div = fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id="fig-" + name,
            config=CONFIG,
            default_height="%dpx" % height,
        )
        return '<div class="figure" data-figure="%s">%s</div>' % (name, div)

    @staticmethod
    def _none(text: str) -> str:
        return '<p class="empty">%s</p>' % text

    # -------------------------------------------------------------- timeline

    def concurrency(self) -> str:
        data = self.data
        if not data.attempts:
            return self._none("No job was submitted.")
        from plotly.subplots import make_subplots

        go = _go()
        width, series, failed = report.concurrency(data)
        xs = [i * width for i in range(len(failed))]
        fig = make_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.06
        )
        for phase in PHASES:
            values = series.get(phase)
            if not values or not any(values):
                continue
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=[round(v, 3) for v in values],
                    name=PHASE_LABELS[phase],
                    stackgroup="phases",
                    mode="lines",
                    line={"width": 0.5, "shape": "hv", "color": COLORS[phase]},
                    fillcolor=COLORS[phase],
                    marker={"color": COLORS[phase]},
                    hovertemplate="%{y:.2f} tries<extra>" + PHASE_LABELS[phase] + "</extra>",
                ),
                1,
                1,
            )
        fig.add_trace(
            go.Bar(
                x=[x + width / 2 for x in xs],
                y=failed,
                width=width,
                name="failed tries ending",
                marker={"color": FAILED},
                hovertemplate="%{y} failed<extra></extra>",
            ),
            2,
            1,
        )
        fig.update_xaxes(range=[0, data.span], row=1, col=1)
        fig.update_xaxes(title_text=AXIS_TIME, range=[0, data.span], row=2, col=1)
        fig.update_yaxes(title_text="tries", rangemode="tozero", row=1, col=1)
        fig.update_yaxes(title_text="failed", rangemode="tozero", row=2, col=1)
        fig.update_layout(
            title="Jobs running, by phase (mean over each %s step)" % _step(width), bargap=0
        )
        return self._html(fig, "concurrency", 420)

    def timeline(self) -> str:
        """One bar per try and phase: a row per try when there are few (named), packed
        into lanes (a try takes the first lane free when it starts) up to BAR_LIMIT tries,
        and beyond that the BAR_SLOWEST slowest tries only, a row each."""
        data = self.data
        chosen = [a for a in data.attempts if a.segments]
        if not chosen:
            return ""
        note, title = "", "Every try of every job"
        rows: dict[str, object] = {}
        packed = False
        if report.ROW_LIMIT < len(chosen) <= report.BAR_LIMIT:
            rows, packed = report.lanes(chosen), True
            chosen = [a for a in chosen if a.label in rows]
            title = "Every try of every job, packed in lanes (a try takes the first free lane)"
        elif len(chosen) > report.BAR_LIMIT:
            note = (
                '<p class="note">%d tries: one bar each would not render, so only the %d '
                "slowest are drawn here; the figure above covers all of them.</p>"
                % (len(chosen), report.BAR_SLOWEST)
            )
            title = "The %d slowest tries" % report.BAR_SLOWEST
            chosen = report.slowest(data, report.BAR_SLOWEST)
        chosen = sorted(chosen, key=lambda a: (_first(a), a.label))
        if not rows:
            rows = {a.label: a.label for a in chosen}
        go = _go()
        fig = go.Figure()
        for phase in PHASES:
            if packed and phase == "queued":
                continue  # waiting is not holding a lane
            ys, xs, bases, hover = [], [], [], []
            for a in chosen:
                for p, s, e in a.segments:
                    if p == phase:
                        ys.append(rows[a.label])
                        xs.append(round(e - s, 3))
                        bases.append(round(s, 3))
                        hover.append(
                            "%s<br>%s: %.1f s to %.1f s (%.3f s)"
                            % (a.label, PHASE_LABELS[p], s, e, e - s)
                        )
            if not ys:
                continue
            inner = phase in ("stage_in", "task", "stage_out")
            fig.add_trace(
                go.Bar(
                    y=ys,
                    x=xs,
                    base=bases,
                    orientation="h",
                    name=PHASE_LABELS[phase],
                    marker={"color": COLORS[phase], "line": {"width": 0}},
                    width=0.5 if inner else 0.8,
                    hovertext=hover,
                    hoverinfo="text",
                )
            )
        bad = [a for a in chosen if a.failed and a.end is not None]
        if bad:
            fig.add_trace(
                go.Scatter(
                    x=[a.end for a in bad],
                    y=[rows[a.label] for a in bad],
                    mode="markers",
                    name="failed try",
                    marker={"symbol": "x", "color": FAILED, "size": 9},
                    hovertext=["%s: exit code %s" % (a.label, a.exitcode) for a in bad],
                    hoverinfo="text",
                )
            )
        count = len(set(rows.values()))
        if packed:
            yaxis = {"autorange": "reversed", "title": "lane", "rangemode": "tozero"}
            height = max(300, min(1400, 150 + 8 * count))
        else:
            yaxis = {"autorange": "reversed", "type": "category", "automargin": True}
            height = max(300, min(1400, 150 + 18 * count))
        fig.update_layout(
            title=title,
            barmode="overlay",
            xaxis={"title": AXIS_TIME, "range": [0, data.span]},
            yaxis=yaxis,
        )
        return self._html(fig, "timeline", height) + note

    # -------------------------------------------------------------- transfers

    def throughput(self) -> str:
        width, series = report.throughput(self.data)
        if not series:
            return ""
        go = _go()
        fig = go.Figure()
        ordered = sorted(series, key=lambda p: -sum(series[p]))
        for i, protocol in enumerate(ordered):
            values = series[protocol]
            fig.add_trace(
                go.Bar(
                    x=[(n + 0.5) * width for n in range(len(values))],
                    y=[round(v, 1) for v in values],
                    name=protocol,
                    marker={"color": PROTOCOL_COLORS[i % len(PROTOCOL_COLORS)]},
                    width=width,
                    hovertemplate="%{y:.4s}B/s<extra>" + protocol + "</extra>",
                )
            )
        fig.update_layout(
            title="Transfer throughput (bytes per second, mean over each %s step)" % _step(width),
            barmode="stack",
            bargap=0,
            xaxis={"title": AXIS_TIME},
            yaxis={"title": "bytes/s", "tickformat": ".3s", "rangemode": "tozero"},
        )
        return self._html(fig, "throughput", 340)

    def protocols(self) -> str:
        rows = report.per_protocol(self.data)
        if not rows:
            return ""
        from plotly.subplots import make_subplots

        go = _go()
        labels = ["%s %s" % (r["protocol"], r["direction"]) for r in rows]
        fig = make_subplots(rows=1, cols=2, subplot_titles=("Bytes moved", "Mean rate (bytes/s)"))
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[r["bytes"] for r in rows],
                name="bytes",
                marker={"color": "#3b82c4"},
                showlegend=False,
            ),
            1,
            1,
        )
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[r["rate"] or 0 for r in rows],
                name="rate",
                marker={"color": "#e08a2c"},
                showlegend=False,
            ),
            1,
            2,
        )
        fig.update_yaxes(tickformat=".3s", rangemode="tozero")
        fig.update_layout(title="Per protocol and direction")
        return self._html(fig, "protocols", 340)

    # -------------------------------------------------------------- jobs

    def slowest(self) -> str:
        chosen = report.slowest(self.data)
        if not chosen:
            return ""
        go = _go()
        labels = [a.label for a in chosen]
        parts = {
            "queued": [_len(a.start, a.submit) for a in chosen],
            "stage_in": [a.phase_seconds("stage_in") or 0.0 for a in chosen],
            "task": [a.phase_seconds("task") or 0.0 for a in chosen],
            "stage_out": [a.phase_seconds("stage_out") or 0.0 for a in chosen],
        }
        rest = [
            max(0.0, (a.wall or 0.0) - s - t - o)
            for a, s, t, o in zip(chosen, parts["stage_in"], parts["task"], parts["stage_out"])
        ]
        aux = [any(p == "aux" for p, _, _ in a.segments) for a in chosen]
        parts["running"] = [0.0 if x else r for r, x in zip(rest, aux)]
        parts["aux"] = [r if x else 0.0 for r, x in zip(rest, aux)]
        fig = go.Figure()
        for phase in ("queued", "stage_in", "task", "stage_out", "running", "aux"):
            values = parts[phase]
            if not any(values):
                continue
            fig.add_trace(
                go.Bar(
                    y=labels,
                    x=[round(v, 3) for v in values],
                    orientation="h",
                    name=PHASE_LABELS[phase],
                    marker={"color": COLORS[phase]},
                    hovertemplate="%{x:.2f} s<extra>" + PHASE_LABELS[phase] + "</extra>",
                )
            )
        fig.update_layout(
            title="Where the slowest tries spent their time",
            barmode="stack",
            xaxis={"title": "seconds"},
            yaxis={"autorange": "reversed", "type": "category", "automargin": True},
        )
        return self._html(fig, "slowest", max(300, 120 + 22 * len(chosen)))


def _first(a: report.AttemptView) -> float:
    for value in (a.submit, a.start):
        if value is not None:
            return value
    return 0.0


def _len(end: float | None, start: float | None) -> float:
    return 0.0 if end is None or start is None else max(0.0, end - start)


def _step(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return "%d h" % (seconds // 3600)
    if seconds >= 60 and seconds % 60 == 0:
        return "%d min" % (seconds // 60)
    return "%g s" % seconds
