"""amoCRM writes that touch our database, one job a module (imported by name, nothing re-exported here):

connection (is it on, OAuth and tokens, the configured client), fields (field setup), lead_sync (the
outbox: profile → lead), webhook_events (amoCRM → profile), enqueue (the one importer of tasks).
"""
