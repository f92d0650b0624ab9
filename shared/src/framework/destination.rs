//! Where an answer may go. A custom resource's answer can carry secrets, and anyone who may
//! invoke the function chooses the ResponseURL, so only CloudFormation's own response bucket
//! for this function's region is accepted, plus hosts a local run names in
//! `ALLOWED_RESPONSE_HOSTS`.

use reqwest::Url;

/// The environment variable that adds hosts for local runs (tests, demo, `cargo lambda`).
pub const ALLOWED_RESPONSE_HOSTS: &str = "ALLOWED_RESPONSE_HOSTS";

/// One host a local run allows: any port when `port` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LocalHost {
    host: String,
    port: Option<u16>,
}

/// The places answers may be sent to.
#[derive(Debug, Clone)]
pub(crate) struct Destinations {
    /// CloudFormation's response hosts for this region; empty without a usable region.
    cloudformation: CloudFormationHosts,
    local: Vec<LocalHost>,
}

#[derive(Debug, Clone)]
struct CloudFormationHosts {
    /// `cloudformation-custom-resource-response-<region without dashes>`: AWS owns it.
    bucket: String,
    /// The S3 endpoints of the region's partition that reach the bucket.
    s3_endpoints: Vec<String>,
}

impl Destinations {
    /// From `AWS_REGION` (set by Lambda) and `ALLOWED_RESPONSE_HOSTS`. Entries that cannot be
    /// read are named in the returned warnings and ignored: they allow nothing.
    pub fn from_env() -> (Self, Vec<String>) {
        let region = std::env::var("AWS_REGION").unwrap_or_default();
        let local = std::env::var(ALLOWED_RESPONSE_HOSTS).unwrap_or_default();
        Self::new(&region, &local)
    }

    pub fn new(region: &str, allowed_hosts: &str) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let cloudformation = CloudFormationHosts::for_region(region).unwrap_or_else(|| {
            warnings.push(format!(
                "AWS_REGION {region:?} is not a region name: no CloudFormation response host is allowed"
            ));
            CloudFormationHosts {
                bucket: String::new(),
                s3_endpoints: Vec::new(),
            }
        });
        let mut local = Vec::new();
        for entry in allowed_hosts
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match LocalHost::parse(entry) {
                Some(host) => local.push(host),
                None => warnings.push(format!(
                    "{ALLOWED_RESPONSE_HOSTS}: {entry:?} is not a host or host:port; ignored"
                )),
            }
        }
        (
            Self {
                cloudformation,
                local,
            },
            warnings,
        )
    }

    /// `Ok` when the answer to the request of `stack_id` / `logical_id` may be PUT to `url`;
    /// else why not, naming the host but never the query (the presigned signature).
    pub fn check(&self, url: &str, stack_id: &str, logical_id: &str) -> Result<(), String> {
        let parsed = Url::parse(url).map_err(|e| format!("the ResponseURL is not a URL ({e})"))?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "the ResponseURL for host {host} carries user information"
            ));
        }
        if self.local_allows(&parsed, &host) {
            return Ok(());
        }
        if let Some(key) = self.cloudformation.object_key(&parsed, &host) {
            // CloudFormation names the object after the request: a URL it made for another
            // stack's resource (the caller's own stack, say) is not this request's.
            let expected = format!("{stack_id}|{logical_id}|");
            let separated = !stack_id.contains('|') && !logical_id.contains('|');
            if separated && percent_decode(key).starts_with(expected.as_bytes()) {
                return Ok(());
            }
            return Err(format!(
                "the ResponseURL on {host} is not CloudFormation's for stack {stack_id} resource {logical_id}"
            ));
        }
        Err(format!(
            "the ResponseURL's host {host} is not CloudFormation's response endpoint for this region{}",
            if self.local.is_empty() {
                String::new()
            } else {
                format!(" nor one of {ALLOWED_RESPONSE_HOSTS}")
            }
        ))
    }

    fn local_allows(&self, url: &Url, host: &str) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        self.local.iter().any(|allowed| {
            allowed.host == host
                && allowed
                    .port
                    .is_none_or(|port| url.port_or_known_default() == Some(port))
        })
    }
}

impl CloudFormationHosts {
    fn for_region(region: &str) -> Option<Self> {
        let valid = !region.is_empty()
            && region.contains('-')
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return None;
        }
        let suffix = partition_dns_suffix(region);
        Some(Self {
            bucket: format!(
                "cloudformation-custom-resource-response-{}",
                region.replace('-', "")
            ),
            s3_endpoints: vec![
                format!("s3.{suffix}"),
                format!("s3.{region}.{suffix}"),
                format!("s3-{region}.{suffix}"),
                format!("s3.dualstack.{region}.{suffix}"),
                format!("s3-fips.{region}.{suffix}"),
                format!("s3-fips.dualstack.{region}.{suffix}"),
            ],
        })
    }

    /// For HTTPS on the default port to the bucket, virtual-hosted or path-style: the
    /// object's key, still percent-encoded.
    fn object_key<'u>(&self, url: &'u Url, host: &str) -> Option<&'u str> {
        if self.bucket.is_empty() || url.scheme() != "https" || url.port().is_some() {
            return None;
        }
        let path = url.path().strip_prefix('/')?;
        self.s3_endpoints.iter().find_map(|endpoint| {
            let virtual_hosted = host
                .strip_prefix(self.bucket.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(endpoint.as_str());
            if virtual_hosted {
                return Some(path);
            }
            if host != endpoint {
                return None;
            }
            path.strip_prefix(self.bucket.as_str())?.strip_prefix('/')
        })
    }
}

/// `%XX` sequences (two hex digits) decoded, as S3 decodes a key; anything else kept as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// The DNS suffix of the region's partition.
fn partition_dns_suffix(region: &str) -> &'static str {
    const PARTITIONS: [(&str, &str); 6] = [
        ("cn-", "amazonaws.com.cn"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
        ("eusc-", "amazonaws.eu"),
    ];
    PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("amazonaws.com", |(_, suffix)| suffix)
}

impl LocalHost {
    /// `host` or `host:port`; IPv6 in brackets (`[::1]:8080`).
    fn parse(entry: &str) -> Option<Self> {
        let url = Url::parse(&format!("http://{entry}/")).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        if !url.username().is_empty() || url.path() != "/" || url.query().is_some() {
            return None;
        }
        // `Url` hides port 80 as the scheme's default: read the entry itself.
        let port = match entry.rsplit_once(':') {
            Some((_, port)) if !entry.ends_with(']') => Some(port.parse().ok()?),
            _ => None,
        };
        Some(Self { host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/e8512830";
    /// The object key CloudFormation uses: stack id, logical id and request id.
    const KEY: &str = "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/orders/e8512830%7CDatabase%7C7b2a";

    fn allowed(region: &str, hosts: &str, url: &str) -> bool {
        let (destinations, warnings) = Destinations::new(region, hosts);
        assert!(warnings.is_empty(), "{warnings:?}");
        destinations
            .check(&url.replace("KEY", KEY), STACK, "Database")
            .is_ok()
    }

    #[test]
    fn cloudformations_response_bucket_is_allowed_in_every_form_it_takes() {
        for url in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/KEY?X-Amz-Signature=1",
            "https://cloudformation-custom-resource-response-useast1.s3.us-east-1.amazonaws.com/KEY?s=1",
            "https://cloudformation-custom-resource-response-useast1.s3-us-east-1.amazonaws.com/KEY",
            "https://CloudFormation-Custom-Resource-Response-USEast1.S3.amazonaws.com/KEY",
            "https://s3.us-east-1.amazonaws.com/cloudformation-custom-resource-response-useast1/KEY",
        ] {
            assert!(allowed("us-east-1", "", url), "{url}");
        }
        assert!(allowed(
            "eu-west-1",
            "",
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/KEY"
        ));
        assert!(allowed(
            "cn-north-1",
            "",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/KEY"
        ));
        assert!(allowed(
            "us-gov-west-1",
            "",
            "https://cloudformation-custom-resource-response-usgovwest1.s3-us-gov-west-1.amazonaws.com/KEY"
        ));
    }

    #[test]
    fn anything_else_is_refused() {
        for url in [
            // Plain HTTP, another port, user information.
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/KEY",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/KEY",
            "https://x@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/KEY",
            // Another region's bucket, or a bucket anyone could create with a similar name.
            "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/KEY",
            "https://cloudformation-custom-resource-response-useast1-mine.s3.amazonaws.com/KEY",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/KEY",
            "https://evil.example/cloudformation-custom-resource-response-useast1.s3.amazonaws.com/KEY",
            // Path-style to another bucket, or to the bucket on a host that is not S3.
            "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1-mine/KEY",
            "https://evil.example/cloudformation-custom-resource-response-useast1/KEY",
            "https://127.0.0.1/KEY",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(!allowed("us-east-1", "", url), "{url}");
        }
    }

    #[test]
    fn the_object_must_be_named_after_this_requests_stack_and_resource() {
        let url = |key: &str| {
            format!(
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/{key}?X-Amz-Signature=1"
            )
        };
        assert!(allowed("us-east-1", "", &url(KEY)));
        for key in [
            // Another stack's URL (the caller's own, genuinely signed), or another resource's.
            KEY.replace("orders", "mine"),
            KEY.replace("Database", "Other"),
            KEY.replace("%7CDatabase", "%7CDatabaseX"),
            KEY.replace("%7C", "%+7C"),
            "k".to_owned(),
        ] {
            assert!(!allowed("us-east-1", "", &url(&key)), "{key}");
        }
    }

    #[test]
    fn local_hosts_allow_http_and_https_on_any_or_the_named_port() {
        assert!(allowed(
            "us-east-1",
            "127.0.0.1",
            "http://127.0.0.1:9/r?sig=1"
        ));
        assert!(allowed(
            "us-east-1",
            " localhost:8080 ",
            "https://localhost:8080/r"
        ));
        assert!(!allowed(
            "us-east-1",
            "localhost:8080",
            "http://localhost:8081/r"
        ));
        assert!(allowed("us-east-1", "a,localhost:80", "http://localhost/r"));
        assert!(!allowed("us-east-1", "localhost:80", "https://localhost/r"));
        assert!(allowed("us-east-1", "[::1]", "http://[::1]:5/r"));
        assert!(!allowed("us-east-1", "127.0.0.1", "ftp://127.0.0.1/r"));
        assert!(!allowed("us-east-1", "127.0.0.1", "http://127.0.0.2/r"));
        // A local host never turns CloudFormation's hosts off.
        assert!(allowed(
            "us-east-1",
            "127.0.0.1",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/KEY"
        ));
    }

    #[test]
    fn unreadable_entries_are_named_and_allow_nothing() {
        let (d, warnings) = Destinations::new("us-east-1", "localhost:http,a/b, ,ok");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(d.check("http://ok/r", STACK, "L").is_ok());
        assert!(d.check("http://localhost/r", STACK, "L").is_err());
        let (d, warnings) = Destinations::new("", "");
        assert_eq!(warnings.len(), 1);
        assert!(
            d.check(
                "https://cloudformation-custom-resource-response-.s3.amazonaws.com/KEY",
                STACK,
                "L"
            )
            .is_err()
        );
    }

    #[test]
    fn the_refusal_names_the_host_but_not_the_query() {
        let (d, _) = Destinations::new("us-east-1", "");
        let reason = d
            .check(
                "https://evil.example/p?X-Amz-Signature=secret123",
                STACK,
                "L",
            )
            .unwrap_err();
        assert!(
            reason.contains("evil.example") && !reason.contains("secret123"),
            "{reason}"
        );
    }
}
