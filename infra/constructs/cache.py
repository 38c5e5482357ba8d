"""The cache: ElastiCache Serverless (Valkey, Redis-compatible) in a small VPC of its own.

Only functions whose route says `uses_redis` are placed in the VPC; the rest stay outside, where cold
starts are cheaper and no NAT is involved. The whole construct is skipped with context redis=false: the
code then runs on DynamoDB alone (a cache is never the only copy of anything).
"""

from __future__ import annotations

import hashlib
import json

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_logs as logs
from constructs import Construct

# Serverless caches listen on 6379 (primary) and 6380 (reader endpoint).
_CACHE_PORTS = ec2.Port.tcp_range(6379, 6380)
_ENGINE, _MAJOR_VERSION = "valkey", "8"
_MAX_AZS, _PRIVATE_CIDR_MASK = 2, 22
# What makes CloudFormation replace the cache (engine, subnets, encryption key). A replacement creates the
# new cache before deleting the old one, and a fixed name would then fail with "already exists": the name
# carries a digest of these settings, so any change that replaces the cache also renames it.
_REPLACEMENT_SETTINGS = {"engine": _ENGINE, "max_azs": _MAX_AZS, "private_cidr_mask": _PRIVATE_CIDR_MASK, "kms": None}


def cache_name(base: str, settings: dict = _REPLACEMENT_SETTINGS) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return f"{base[:31]}-{digest}".lower()  # ServerlessCacheName: at most 40 characters


class Cache(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            # Fixed AZ count keeps the stack environment-agnostic (Fn::GetAZs, no lookups).
            max_azs=_MAX_AZS,
            # In-VPC functions still call the WebSocket management API, which has no usable VPC
            # endpoint for public APIs: they need a NAT. One keeps the cost down; see README.
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=_PRIVATE_CIDR_MASK
                ),
            ],
            # DynamoDB traffic through a free gateway endpoint rather than the NAT.
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
            },
        )
        # Rejected traffic only: cheap, and the first thing to look at when a function cannot reach the cache.
        self.vpc.add_flow_log(
            "RejectedFlows",
            traffic_type=ec2.FlowLogTrafficType.REJECT,
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(
                    self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=cdk.RemovalPolicy.DESTROY
                )
            ),
        )
        self.function_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.function_security_group = ec2.SecurityGroup(
            self, "FunctionSecurityGroup", vpc=self.vpc, description="Parley functions that use the cache"
        )
        cache_security_group = ec2.SecurityGroup(
            self, "CacheSecurityGroup", vpc=self.vpc, description="Parley cache", allow_all_outbound=False
        )
        cache_security_group.add_ingress_rule(self.function_security_group, _CACHE_PORTS, "Parley functions")

        self.serverless_cache = elasticache.CfnServerlessCache(
            self,
            "ServerlessCache",
            engine=_ENGINE,
            major_engine_version=_MAJOR_VERSION,
            serverless_cache_name=cache_name(cdk.Names.unique_resource_name(self, max_length=31, separator="-")),
            description="Parley cache: presence, typing, recent messages, rate limits",
            subnet_ids=self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids,
            security_group_ids=[cache_security_group.security_group_id],
            # A ceiling against runaway cost; the keys are small and all expire.
            cache_usage_limits=elasticache.CfnServerlessCache.CacheUsageLimitsProperty(
                data_storage=elasticache.CfnServerlessCache.DataStorageProperty(maximum=5, unit="GB")
            ),
        )
        # Serverless caches only accept TLS connections: rediss://, not redis://.
        self.url = f"rediss://{self.serverless_cache.attr_endpoint_address}:{self.serverless_cache.attr_endpoint_port}"
