"""``/api/v1/me/badges`` and the admin's revocation; the public pages are in ``academy.web``."""
from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint

from ..accounts.auth import login_required, require_scope
from ..errors import Forbidden
from ..extensions import db
from ..schemas import PageArgs
from . import service
from .answers import award_dict
from .schemas import AwardPageSchema, AwardSchema, RevokeSchema

bp = Blueprint("badges", __name__, url_prefix="/api/v1", description="Badges")


@bp.route("/me/badges", methods=["GET"])
@login_required
@bp.arguments(PageArgs(), location="query", as_kwargs=True)
@bp.response(200, AwardPageSchema)
def my_badges(page, per_page):
    """The learner's badges, with the public URL to share each one."""
    rows, total = service.awards_of(current_user.id, page, per_page)
    return {"items": [award_dict(a, c) for a, c in rows], "total": total}


@bp.route("/admin/badges/<public_id>/revoke", methods=["POST"])
@login_required
@bp.arguments(RevokeSchema())
@bp.response(200, AwardSchema)
def revoke(body, public_id):
    """Withdraw a badge; its public page answers 410 from now on (admins only)."""
    if not current_user.is_admin:
        raise Forbidden("Only administrators can revoke badges.")
    require_scope("admin")
    award, badge_class = service.revoke(public_id, body["reason"])
    db.session.commit()
    return award_dict(award, badge_class)
