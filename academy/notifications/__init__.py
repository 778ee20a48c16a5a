"""Mail: rendering, the outbox, delivery, reminders and unsubscribe."""
