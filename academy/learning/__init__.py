"""Enrollments, lesson progress, streaks and completion."""
