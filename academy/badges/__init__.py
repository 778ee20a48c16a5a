"""Badge classes, awards and their Open Badges documents."""
