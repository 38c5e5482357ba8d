"""Storage behind small interfaces: PynamoDB in, domain objects and domain errors out."""
