"""``/admin``: each track's funnel, enrolled → each lesson → completed, as an SVG drawn here."""
from __future__ import annotations

from ..catalog import service as catalog
from ..learning import service as learning
from . import bp
from .guard import admin_only
from .render import page

BAR_HEIGHT, GAP, LABEL_WIDTH, CHART_WIDTH = 24, 8, 220, 360


def funnel(stats: dict, titles: dict[str, str]) -> dict:
    """The bars of one track's funnel, sized against the number enrolled."""
    steps = [("Enrolled", stats["enrolled"])]
    steps += [(titles.get(lesson["slug"], lesson["slug"]), lesson["completed"])
              for lesson in stats["lessons"]]
    steps.append(("Completed the track", stats["completed"]))
    top = max(stats["enrolled"], 1)
    bars = [{"label": label, "count": count, "y": index * (BAR_HEIGHT + GAP),
             "width": round(CHART_WIDTH * count / top),
             "percent": round(100 * count / top) if stats["enrolled"] else 0}
            for index, (label, count) in enumerate(steps)]
    return {"bars": bars, "height": len(bars) * (BAR_HEIGHT + GAP),
            "width": LABEL_WIDTH + CHART_WIDTH + 80, "label_width": LABEL_WIDTH,
            "bar_height": BAR_HEIGHT}


@bp.get("/admin")
@admin_only
def admin():
    tracks, _ = catalog.list_tracks(None, 1, 100)
    funnels = []
    for track in tracks:
        detail = catalog.track_detail(track["slug"])
        titles = {lesson["slug"]: lesson["title"] for lesson in detail["lessons"]}
        stats = learning.track_stats(track["slug"])
        funnels.append({"track": track, "stats": stats, "chart": funnel(stats, titles)})
    return page("web/admin.html", funnels=funnels)
