"""``/admin``: each track's funnel, enrolled → each lesson → completed, as an SVG drawn here,
and the questions of its checks that learners miss most on their first try."""
from __future__ import annotations

from ..catalog import service as catalog
from ..learning import checks
from ..learning import service as learning
from . import bp
from .guard import admin_only
from .render import page

BAR_HEIGHT, GAP, LABEL_WIDTH, CHART_WIDTH = 24, 8, 220, 360
HARDEST = 5


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


def hardest(slug: str, questions: list[dict]) -> list[dict]:
    """The ``HARDEST`` questions attempted at least once with the lowest first-try-correct
    rate (more attempts first on a tie), each with its prompt."""
    tried = sorted((q for q in questions if q["attempts"] and q["first_try_correct_rate"] is not None),
                   key=lambda q: (q["first_try_correct_rate"], -q["attempts"]))[:HARDEST]
    prompts = {}
    for lesson in {q["lesson"] for q in tried}:
        prompts.update({(lesson, question["id"]): question["prompt"]
                        for question in catalog.lesson_detail(slug, lesson)["check"] or ()})
    return [{**q, "prompt": prompts.get((q["lesson"], q["id"]), ""),
             "percent": round(100 * q["first_try_correct_rate"])} for q in tried]


@bp.get("/admin")
@admin_only
def admin():
    tracks, _ = catalog.list_tracks(None, 1, 100)
    funnels = []
    for track in tracks:
        detail = catalog.track_detail(track["slug"])
        titles = {lesson["slug"]: lesson["title"] for lesson in detail["lessons"]}
        stats = learning.track_stats(track["slug"])
        questions = checks.question_stats(track["slug"])
        funnels.append({"track": track, "stats": stats, "chart": funnel(stats, titles),
                        "titles": titles, "has_checks": bool(questions),
                        "hardest": hardest(track["slug"], questions)})
    return page("web/admin.html", funnels=funnels)
