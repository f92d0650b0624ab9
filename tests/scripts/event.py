"""Prints a CloudFormation custom-resource event, as CloudFormation sends it.

usage: event.py TYPE LOGICAL_ID PROPERTIES_JSON [PHYSICAL_ID [OLD_PROPERTIES_JSON]]
       event.py --sent EVENT_FILE   tells the CloudFormation stand-in at RESPONSE_BASE that
                                    CloudFormation sends this event (so that the functions'
                                    DescribeStackResource shows its resource in progress)
Environment: RESPONSE_BASE (the response endpoint), STACK_ID, SERVICE_TOKEN.
"""
import json
import os
import sys
import urllib.request
import uuid

if sys.argv[1] == "--sent":
    with open(sys.argv[2], "rb") as f:
        request = urllib.request.Request(
            f"{os.environ['RESPONSE_BASE']}/stand-in/sent", data=f.read(), method="POST"
        )
    urllib.request.urlopen(request, timeout=5).read()
    sys.exit(0)

kind, logical_id, properties = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
request_id = str(uuid.uuid4())
token = os.environ.get("SERVICE_TOKEN", "arn:aws:lambda:us-east-1:123456789012:function:demo")
properties = {"ServiceToken": token, **properties}
event = {
    "RequestType": kind,
    "ServiceToken": token,
    "ResponseURL": (
        f"{os.environ['RESPONSE_BASE']}/cloudformation-custom-resource-response-useast1/"
        f"demo/{request_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=demo-signature"
    ),
    "StackId": os.environ["STACK_ID"],
    "RequestId": request_id,
    "LogicalResourceId": logical_id,
    "ResourceType": os.environ.get("RESOURCE_TYPE", "Custom::Demo"),
    "ResourceProperties": properties,
}
if len(sys.argv) > 4:
    event["PhysicalResourceId"] = sys.argv[4]
if len(sys.argv) > 5:
    event["OldResourceProperties"] = {"ServiceToken": token, **json.loads(sys.argv[5])}
print(json.dumps(event))
