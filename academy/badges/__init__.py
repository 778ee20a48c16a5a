"""Badge awards and their Open Badges documents (badge classes are catalog content)."""
