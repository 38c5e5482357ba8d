"""Business logic. Services take their dependencies as arguments and know no event shapes."""
