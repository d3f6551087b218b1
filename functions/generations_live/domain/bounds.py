"""Bounds on what a request may carry, as plain numbers.

The request models enforce them; the callable edge reads the body limits
before anything is parsed. Kept apart so that reading them loads neither
pydantic nor Pillow when a function instance starts.
"""

from __future__ import annotations

from typing import Final

MAX_BATCH_SIZE: Final = 8
# Inline text of a text generation's output, in UTF-8 bytes (a batch of them
# stays far below Firestore's 1 MiB document limit).
MAX_OUTPUT_TEXT_BYTES: Final = 16 * 1024
# The largest preview a worker may send, decoded from base64: enough for a
# well-compressed image several times larger than the stored preview, small
# enough that a request carrying one stays cheap to receive and to hold.
MAX_PREVIEW_INPUT_BYTES: Final = 512 * 1024
# The same preview as base64 characters.
MAX_PREVIEW_BASE64_LENGTH: Final = 4 * ((MAX_PREVIEW_INPUT_BYTES + 2) // 3)
# The largest status report a worker may send: the preview, a batch of inline
# texts as JSON escapes them at worst (six bytes a character, "\u0001"), and
# room for the rest.
MAX_STATUS_REPORT_BODY_BYTES: Final = (
    MAX_PREVIEW_BASE64_LENGTH + MAX_BATCH_SIZE * 6 * MAX_OUTPUT_TEXT_BYTES + 64 * 1024
)
