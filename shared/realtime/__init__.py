"""Real time: pushes to connections, the events users are told about, rate limits, presence."""
