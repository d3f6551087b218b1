"""Every Firestore collection name of the project, spelled once.

Code outside the adapters never spells one (a test checks): it asks an
adapter for the documents it needs.
"""

# The public feed: one document per generation, readable by signed-in users.
LIVE_GENERATIONS = "live_generations"
# users/{uid}: the owner's history (USER_GENERATIONS) and daily usage (USAGE).
USERS = "users"
USER_GENERATIONS = "generations"
USAGE = "usage"
# billing/{uid}: the account, and its append-only LEDGER.
BILLING = "billing"
LEDGER = "ledger"
# One immutable event per generation change, folded by the analytics rollup.
GENERATION_EVENTS = "generation_events"
# Reports of generations by users (one per reporter and generation), and the
# admins' queue of reported generations (one entry per generation).
GENERATION_REPORTS = "generation_reports"
MODERATION_QUEUE = "moderation_queue"
# Purchases the payment provider reported for a user id with no account, by event id.
PAYMENT_REVIEWS = "payment_reviews"
# Append-only audit of role grants and revocations by operators; closed to clients.
ROLE_AUDIT = "role_audit"
# The claim of a call with an idempotency key while it runs.
REQUEST_CLAIMS = "request_claims"
# The rollups' cursors and leases, one document per rollup.
ANALYTICS_META = "analytics_meta"
# Generation analytics: day counters, per-day user shards, precomputed windows.
ANALYTICS_DAYS = "analytics_days"
ANALYTICS_DAY_USERS = "analytics_day_users"
ANALYTICS_WINDOWS = "analytics_windows"
# Billing analytics, the same three.
BILLING_ANALYTICS_DAYS = "billing_analytics_days"
BILLING_ANALYTICS_DAY_USERS = "billing_analytics_day_users"
BILLING_ANALYTICS_WINDOWS = "billing_analytics_windows"
# Account deletion: its progress, one marker per uid, and what is kept of each
# erased generation for the analytics recount (no prompt, name or email).
ACCOUNT_DELETIONS = "account_deletions"
ERASED_GENERATIONS = "erased_generations"
# What generations produced: each completed generation's sanitised preview
# image (readable under the generation's visibility) and its output references
# (read through getGenerationOutputs only), keyed by generation id.
PREVIEWS = "previews"
GENERATION_OUTPUTS = "generation_outputs"
# users/{uid}/notifications: what the user is told (a generation ended, credits).
NOTIFICATIONS = "notifications"
# Outbound webhooks: the registered endpoints (each with its delivery log in
# ATTEMPTS), the transactional outbox of events, and one delivery per event
# and endpoint.
WEBHOOK_ENDPOINTS = "webhook_endpoints"
WEBHOOK_ATTEMPTS = "attempts"
WEBHOOK_EVENTS = "webhook_events"
WEBHOOK_DELIVERIES = "webhook_deliveries"
# One document, SUBSCRIPTIONS_DOCUMENT: the event types some enabled endpoint
# subscribes to. Every store transaction reads it, and writes an event to the
# outbox only when someone will receive it.
WEBHOOK_SUBSCRIPTIONS = "webhook_subscriptions"
SUBSCRIPTIONS_DOCUMENT = "current"
# The feed's snapshots: one document per view (``domain/feed_views.py``) with
# its 50 newest entries, readable by signed-in users, and each view's lease,
# which hands one builder each period the right to rewrite it.
FEED_SNAPSHOTS = "feed_snapshots"
FEED_SNAPSHOT_LEASES = "feed_snapshot_leases"
# Per-user collections a deletion removes whole (besides the generations, which
# go with their public halves): subcollections of users/{uid}, and top-level
# collections whose documents name their user in ``userId``. A new per-user
# collection is one entry here.
USER_SUBCOLLECTIONS_ERASED: tuple[str, ...] = (USAGE, NOTIFICATIONS)
USER_KEYED_COLLECTIONS_ERASED: tuple[str, ...] = (PREVIEWS, GENERATION_OUTPUTS, WEBHOOK_EVENTS)
