"""Web adapter: the HTTP server on the event loop (/metrics; the wallboard)."""
