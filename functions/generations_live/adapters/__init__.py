"""Firestore, Firebase Auth and configuration: every collection name, path and query."""
