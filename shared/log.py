"""One structured logger (Powertools) for every function."""

from aws_lambda_powertools import Logger

from shared.resources import SERVICE_NAME

logger = Logger(service=SERVICE_NAME)
