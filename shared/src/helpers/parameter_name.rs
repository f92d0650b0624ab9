//! SSM parameter names: checked against SSM's rules before any call is made.

/// SSM's limit for a name, its ARN prefix included; `arn:aws:ssm:REGION:ACCOUNT:parameter`
/// takes about 60 of those.
const MAX_NAME: usize = 1011 - 64;
const MAX_DEPTH: usize = 15;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{property} {name:?} is not a valid SSM parameter name: {why}")]
/// A name SSM would refuse, or one reserved to AWS.
pub struct InvalidName {
    property: &'static str,
    name: String,
    why: String,
}

/// Checks a parameter name against SSM's rules, before any call is made.
pub fn validate_name(property: &'static str, name: &str) -> Result<(), InvalidName> {
    let invalid = |why: &str| InvalidName {
        property,
        name: crate::properties::shorten(name),
        why: why.to_owned(),
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > MAX_NAME {
        return Err(invalid(&format!("it is longer than {MAX_NAME} characters")));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c)))
    {
        return Err(invalid(&format!(
            "{c:?} is not allowed; use letters, digits, _ . - and / between levels"
        )));
    }
    let first = name
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let lower = first.to_ascii_lowercase();
    if lower.starts_with("aws") || lower.starts_with("ssm") {
        return Err(invalid("names starting with aws or ssm are reserved"));
    }
    if name.contains('/') {
        if !name.starts_with('/') {
            return Err(invalid("a hierarchical name must start with /"));
        }
        if name.ends_with('/') || name.contains("//") {
            return Err(invalid("no level may be empty"));
        }
        if name.matches('/').count() > MAX_DEPTH {
            return Err(invalid(&format!("it is deeper than {MAX_DEPTH} levels")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass() {
        for name in ["/orders-platform/rds/admin-password", "simple", "a.b-c_d"] {
            validate_name("ParameterName", name).unwrap();
        }
    }

    #[test]
    fn invalid_names_are_refused_with_the_rule() {
        for (name, why) in [
            ("", "empty"),
            ("/a b", "' ' is not allowed"),
            ("/aws/x", "reserved"),
            ("SSMthing", "reserved"),
            ("a/b", "must start with /"),
            ("/a//b", "empty"),
            ("/a/", "empty"),
            (&"/x".repeat(16), "deeper than 15"),
            (&"x".repeat(1000), "longer"),
        ] {
            let err = validate_name("ParameterName", name)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("ParameterName "), "{err}");
            assert!(err.contains(why), "{name}: {err}");
        }
    }
}
