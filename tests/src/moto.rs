//! Fixtures in moto that the SDKs this project builds with cannot make.

use crate::moto_endpoint;

/// The subnet ids of moto's default VPC (a load balancer needs two), read with one EC2
/// Query API call rather than a whole EC2 SDK.
pub async fn default_subnets() -> Vec<String> {
    let body = reqwest::Client::new()
        .post(moto_endpoint())
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("Action=DescribeSubnets&Version=2016-11-15")
        .send()
        .await
        .expect("moto answers DescribeSubnets")
        .text()
        .await
        .expect("text");
    body.split("<subnetId>")
        .skip(1)
        .filter_map(|s| s.split("</subnetId>").next())
        .map(str::to_owned)
        .collect()
}
