"""A job in your VPC: do its subnets and security groups exist, share one VPC, and can that VPC reach S3?

A job in private subnets downloads its data and image through an S3 gateway endpoint or a NAT gateway; with
neither it hangs in "Downloading" until its MaxRuntime. EC2 Describe* calls only.
"""

from __future__ import annotations

from launcher.cloud.aws import Aws, AwsError
from launcher.config.spec import LaunchSpec


def check_vpc(aws: Aws, spec: LaunchSpec, region: str) -> str:
    subnets = aws.call("ec2", "describe_subnets", "cannot describe the subnets (do they exist?)",
                       SubnetIds=list(spec.job.subnets)).get("Subnets", [])
    groups = aws.call("ec2", "describe_security_groups", "cannot describe the security groups (do they exist?)",
                      GroupIds=list(spec.job.security_group_ids)).get("SecurityGroups", [])
    vpcs = {item["VpcId"] for item in subnets} | {item["VpcId"] for item in groups}
    if len(vpcs) != 1:
        raise AwsError(f"the subnets and security groups are in different VPCs ({', '.join(sorted(vpcs))}): "
                       "use one VPC's")
    (vpc,) = vpcs
    endpoints = aws.call("ec2", "describe_vpc_endpoints", f"cannot list the endpoints of {vpc}", Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "service-name", "Values": [f"com.amazonaws.{region}.s3"]}])
    if endpoints.get("VpcEndpoints"):
        return f"{vpc}: subnets and security groups found; S3 through endpoint " \
               f"{endpoints['VpcEndpoints'][0]['VpcEndpointId']}"
    gateways = aws.call("ec2", "describe_nat_gateways", f"cannot list the NAT gateways of {vpc}", Filter=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "state", "Values": ["available"]}])
    if gateways.get("NatGateways"):
        return f"{vpc}: subnets and security groups found; S3 through NAT gateway " \
               f"{gateways['NatGateways'][0]['NatGatewayId']}"
    raise AwsError(f"{vpc} has neither an S3 gateway endpoint nor a NAT gateway: the job could not download its "
                   f"data or image; add an endpoint for com.amazonaws.{region}.s3")
