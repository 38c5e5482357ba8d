"""One structured logger (Powertools) for every function."""

from aws_lambda_powertools import Logger

logger = Logger(service="parley")
