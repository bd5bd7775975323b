"""amoCRM writes that touch our database, one job a module (imported by name, nothing re-exported here):

connection (is it on, OAuth and tokens, the configured client), account (the account's own
settings), breaker (stop calling amoCRM while it cannot help), fields (field setup), outbox (pending
rows and the retry rule), lead_sync (the sync run: profile → lead), contacts (a new lead's existing
contact), notes (the lead's history), crm_changes (amoCRM's changes → profile), webhook_events (store
and apply webhooks), reconcile (read back what webhooks missed), enqueue (the one importer of tasks).
"""
