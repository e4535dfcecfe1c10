#!/usr/bin/env python3
"""Publish storefront/ to a deployed Bookish stack: its files, plus a config.json made
from the stack's outputs (API URL, region, user pool client), into the private
StorefrontBucket; then invalidate the CloudFront cache so the new files are served.

  make publish-storefront STACK=bookish-dev      (AWS credentials and region from the environment)
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "storefront"
# No file name carries a content hash (no build step), so browsers revalidate every file;
# CloudFront answers the revalidation from its edge cache.
CACHE_CONTROL = "no-cache"


def config_from(outputs: dict[str, str], region: str) -> dict:
    return {
        "apiUrl": outputs["ApiUrl"],
        "region": region,
        "userPoolClientId": outputs["UserPoolClientId"],
        "cognitoEndpoint": f"https://cognito-idp.{region}.amazonaws.com/",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="the CloudFormation stack name")
    args = parser.parse_args()

    session = boto3.session.Session()
    stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = {"ApiUrl", "UserPoolClientId", "StorefrontBucketName", "StorefrontDistributionId",
               "StorefrontUrl"} - set(outputs)
    if missing:
        raise SystemExit(f"stack {args.stack} has no outputs {sorted(missing)}: deploy template.yaml first")

    s3 = session.client("s3")
    bucket = outputs["StorefrontBucketName"]
    files = sorted(p for p in SOURCE.rglob("*") if p.is_file() and p.name != "config.json")
    for path in files:
        key = path.relative_to(SOURCE).as_posix()
        content_type = "text/javascript" if path.suffix == ".js" else mimetypes.guess_type(path.name)[0]
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type or "application/octet-stream",
                                                          "CacheControl": CACHE_CONTROL})
    config = config_from(outputs, session.region_name)
    s3.put_object(Bucket=bucket, Key="config.json", Body=json.dumps(config, indent=2).encode(),
                  ContentType="application/json", CacheControl=CACHE_CONTROL)
    print(f"uploaded {len(files)} files and config.json to s3://{bucket}")

    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["StorefrontDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())})
    print(f"storefront: {outputs['StorefrontUrl']} (CloudFront is refreshing its cache; a minute or two)")


if __name__ == "__main__":
    main()
