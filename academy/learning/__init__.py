"""Enrollments, lesson progress, streaks, completion and the inactivity reminders."""
