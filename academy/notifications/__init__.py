"""Mail: rendering, the outbox, delivery and unsubscribe; a leaf that imports no other domain."""
