"""The course catalog: tracks and lessons loaded from ``content/tracks``."""
