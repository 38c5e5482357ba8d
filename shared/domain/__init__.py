"""The domain at the bottom: messages, ids, validation, errors, limits, time. Imports nothing of Parley's above it."""
