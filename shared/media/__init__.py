"""Media (images, voice notes, files): what may be uploaded, where it lives in the bucket, and the pure
checks and conversions the S3-triggered functions run (no storage, no events)."""
