"""History: queue_log (files, or PostgreSQL as Asterisk's realtime queue_log) ingested into
call records in an embedded store, and the queries the reports are made of."""
