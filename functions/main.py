"""Entry point of the deployed functions: it only initialises the app and exports.

``firebase_admin.initialize_app()`` is needed here because the callable SDK
verifies ID tokens with the default app before a handler runs; it makes no
network call (and is skipped when an embedding process, such as a test,
already did it). Firestore clients are built on first use, not at import.
"""

import firebase_admin

from generations_live.entrypoints.callables import (
    getBillingAnalytics,
    getGenerationAnalytics,
    getLiveGenerations,
    getUserUsage,
    grantCredits,
    quoteGeneration,
    trackGeneration,
    updateGenerationStatus,
)
from generations_live.entrypoints.schedules import (
    cleanupGenerations,
    rollupAnalytics,
    sweepStuckGenerations,
)
from generations_live.entrypoints.webhooks import paymentWebhook

try:
    firebase_admin.get_app()
except ValueError:
    firebase_admin.initialize_app()

__all__ = [
    "cleanupGenerations",
    "getBillingAnalytics",
    "getGenerationAnalytics",
    "getLiveGenerations",
    "getUserUsage",
    "grantCredits",
    "paymentWebhook",
    "quoteGeneration",
    "rollupAnalytics",
    "sweepStuckGenerations",
    "trackGeneration",
    "updateGenerationStatus",
]
