"""The write side of events: domains record outbox rows and ask for jobs after commit here,
and never read back. Delivery (backend.notifications: inbox, stream, chat, unit webhooks)
reads the outbox; this package imports no domain and no delivery code — jobs are named by
their import path, resolved when they run."""
