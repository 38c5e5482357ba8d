"""Storage: the DynamoDB tables and their repositories, the Redis cache, search indexes, cursors."""
