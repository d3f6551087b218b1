"""Entry point of the deployed functions: it only initialises the app and exports.

``firebase_admin.initialize_app()`` is needed here because the callable SDK
verifies ID tokens with the default app before a handler runs; it makes no
network call (and is skipped when an embedding process, such as a test,
already did it). Firestore clients, the use cases and the request models
load on a function's first call, not at import (see docs/benchmarks.md for
what a cold start costs).
"""

import firebase_admin

from generations_live.entrypoints.registry import DEPLOYED

try:
    firebase_admin.get_app()
except ValueError:
    firebase_admin.initialize_app()

# The SDK and functions-framework find each function as an attribute of this module.
globals().update({name: deployed.function for name, deployed in DEPLOYED.items()})
__all__ = list(DEPLOYED)
