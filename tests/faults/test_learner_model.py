"""A model of the learner, checked by hypothesis: whatever mix of enrolling, completing,
undoing, dropping, re-enrolling and content syncs happens, the numbers stay right."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

from academy.badges.models import BadgeAward
from academy.badges.service import award_for_enrollment
from academy.catalog import service as catalog
from academy.catalog.content import load_tree
from academy.extensions import db
from academy.learning import service as learning
from academy.learning.models import Enrollment, LessonCompletion
from tests.helpers.app import empty_tables
from tests.helpers.content import write_track
from tests.helpers.factories import make_user

POOL = ["l1", "l2", "l3", "l4", "l5", "l6"]


def learner_model(app):
    class LearnerMachine(RuleBasedStateMachine):
        """One learner, one track whose lesson list authors keep changing."""

        @initialize()
        def start(self):
            self.ctx = app.app_context()
            self.ctx.push()
            self.root = Path(tempfile.mkdtemp())
            self.current = ["l1", "l2", "l3"]
            self.ever = set(self.current)  # every lesson the content has had
            self.added_after_completion: set[str] = set()  # first added once it was completed
            self._sync()
            self.user_id = make_user().id
            self.enrolled = False
            self.dropped = False
            self.was_completed = False
            self.done: set[str] = set()  # lessons the learner marked and did not undo

        def teardown(self):
            if not hasattr(self, "ctx"):
                return
            db.session.rollback()
            empty_tables()
            db.session.remove()
            self.ctx.pop()
            shutil.rmtree(self.root, ignore_errors=True)

        def _sync(self):
            write_track(self.root, "basics", list(self.current), position=1)
            catalog.sync(load_tree(self.root))
            db.session.commit()

        @rule()
        def enroll(self):
            learning.enroll(self.user_id, "basics")
            db.session.commit()
            self.enrolled, self.dropped = True, False

        @precondition(lambda self: self.enrolled and not self.dropped)
        @rule(data=st.data())
        def complete(self, data):
            lesson = data.draw(st.sampled_from(self.current))
            view = learning.complete_lesson(self.user_id, "basics", lesson)
            db.session.commit()
            self.done.add(lesson)
            if view.enrollment.status.value == "completed":
                self.was_completed = True
                # The award the worker would make once the commit is visible.
                award_for_enrollment(view.enrollment.id)
                award_for_enrollment(view.enrollment.id)  # a redelivered message
                db.session.commit()

        @precondition(lambda self: self.enrolled and not self.dropped)
        @rule(data=st.data())
        def uncomplete(self, data):
            lesson = data.draw(st.sampled_from(self.current))
            learning.uncomplete_lesson(self.user_id, "basics", lesson)
            db.session.commit()
            self.done.discard(lesson)

        @precondition(lambda self: self.enrolled and not self.dropped)
        @rule()
        def drop(self):
            learning.drop(self.user_id, "basics")
            db.session.commit()
            self.dropped = True

        @precondition(lambda self: len(self.current) < len(POOL))
        @rule(data=st.data())
        def author_adds_a_lesson(self, data):
            new = data.draw(st.sampled_from([s for s in POOL if s not in self.current]))
            self.current.insert(data.draw(st.integers(0, len(self.current))), new)
            if self.was_completed and new not in self.ever:
                self.added_after_completion.add(new)
            self.ever.add(new)
            self._sync()

        @precondition(lambda self: len(self.current) > 1)
        @rule(data=st.data())
        def author_retires_a_lesson(self, data):
            self.current.remove(data.draw(st.sampled_from(self.current)))
            self._sync()

        def _enrollment(self):
            return db.session.scalar(select(Enrollment).where(Enrollment.user_id == self.user_id))

        @invariant()
        def numbers_stay_right(self):
            if not getattr(self, "enrolled", False):
                return
            view = learning.get_enrollment(self.user_id, "basics")
            progress = view.progress
            assert 0 <= progress.percent <= 100
            assert progress.total == len(self.current)
            assert set(progress.completed_lessons) == self.done & set(self.current)
            assert progress.completed == len(self.done & set(self.current))
            if self.was_completed:
                assert view.enrollment.completed_at is not None  # completed for good
                # New: added since completion and not done; a lesson undone is only to do.
                new = (set(self.current) - self.done) & self.added_after_completion
                assert set(progress.new_lessons) == new or view.enrollment.status.value == "dropped"

        @invariant()
        def no_completion_is_ever_lost(self):
            if not getattr(self, "enrolled", False):
                return
            stored = set(db.session.scalars(
                select(func.distinct(LessonCompletion.lesson_id)).join(Enrollment)
                .where(Enrollment.user_id == self.user_id)))
            from academy.catalog.models import Lesson

            slugs = set(db.session.scalars(select(Lesson.slug).where(Lesson.id.in_(stored))))
            # Retired lessons keep their rows: everything marked and not undone is there.
            assert slugs == self.done

        @invariant()
        def at_most_one_award_per_badge(self):
            if not hasattr(self, "user_id"):
                return
            rows = db.session.execute(
                select(BadgeAward.badge_class_id, func.count()).where(BadgeAward.user_id == self.user_id)
                .group_by(BadgeAward.badge_class_id)).all()
            assert all(count == 1 for _, count in rows)

    return LearnerMachine


def test_learner_model(app):
    machine = learner_model(app)
    machine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None,
                                         derandomize=True,
                                         # No shrinking: every step touches the database, and
                                         # an unshrunk failing run is reported all the same.
                                         phases=[Phase.explicit, Phase.reuse, Phase.generate],
                                         suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
