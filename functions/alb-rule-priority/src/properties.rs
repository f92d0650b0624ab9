//! The resource's properties, as CloudFormation sends them.

use std::ops::RangeInclusive;

use serde::Deserialize;
use shared::properties::{PropertyError, Validate, optional_number};

use crate::choice::Placement;

pub const LOWEST: u32 = 1;
pub const HIGHEST: u32 = 50_000;
pub const MAX_COUNT: u32 = 10;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    pub listener_arn: String,
    #[serde(default, deserialize_with = "optional_number")]
    pub count: Option<u32>,
    #[serde(default, deserialize_with = "optional_number")]
    pub min_priority: Option<u32>,
    #[serde(default, deserialize_with = "optional_number")]
    pub max_priority: Option<u32>,
    #[serde(default)]
    pub placement: Option<Placement>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidRange {
    #[error("{0} must be between {LOWEST} and {HIGHEST}, got {1}")]
    OutOfBounds(&'static str, u32),
    #[error("MinPriority {0} is above MaxPriority {1}")]
    Inverted(u32, u32),
    #[error("Count must be between 1 and {MAX_COUNT}, got {0}")]
    Count(u32),
    #[error(
        "ListenerArn {0:?} is not a listener ARN (arn:aws:elasticloadbalancing:...:listener/...)"
    )]
    NotAListener(String),
}

/// What to allocate, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub listener_arn: String,
    pub count: usize,
    pub range: RangeInclusive<u32>,
    pub placement: Placement,
}

impl Validate for Properties {
    fn validate(&self) -> Result<(), PropertyError> {
        self.allocation()
            .map(|_| ())
            .map_err(|e| PropertyError::Invalid(e.to_string()))
    }
}

impl Properties {
    pub fn allocation(&self) -> Result<Allocation, InvalidRange> {
        if !self.listener_arn.starts_with("arn:") || !self.listener_arn.contains(":listener/") {
            return Err(InvalidRange::NotAListener(shared::properties::shorten(
                &self.listener_arn,
            )));
        }
        let (min, max) = (
            self.min_priority.unwrap_or(LOWEST),
            self.max_priority.unwrap_or(HIGHEST),
        );
        for (name, value) in [("MinPriority", min), ("MaxPriority", max)] {
            if !(LOWEST..=HIGHEST).contains(&value) {
                return Err(InvalidRange::OutOfBounds(name, value));
            }
        }
        if min > max {
            return Err(InvalidRange::Inverted(min, max));
        }
        let count = self.count.unwrap_or(1);
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(InvalidRange::Count(count));
        }
        Ok(Allocation {
            listener_arn: self.listener_arn.clone(),
            count: count as usize,
            range: min..=max,
            placement: self.placement.unwrap_or_default(),
        })
    }
}

impl Properties {
    /// For a rollback to properties today's rules refuse: the range and count brought
    /// within what they allow.
    pub fn allocation_within_bounds(&self) -> Allocation {
        let bound = |v: Option<u32>, default| v.unwrap_or(default).clamp(LOWEST, HIGHEST);
        let (a, b) = (
            bound(self.min_priority, LOWEST),
            bound(self.max_priority, HIGHEST),
        );
        Allocation {
            listener_arn: self.listener_arn.clone(),
            count: self.count.unwrap_or(1).clamp(1, MAX_COUNT) as usize,
            range: a.min(b)..=a.max(b),
            placement: self.placement.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::properties::parse_strict;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/1/2";

    fn allocation(v: serde_json::Value) -> Result<Allocation, String> {
        parse_strict::<Properties>(Some(v))
            .map_err(|e| e.to_string())?
            .allocation()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_strings() {
        let a = allocation(json!({"ListenerArn": ARN})).unwrap();
        assert_eq!((a.count, a.range), (1, 1..=50000));
        let a = allocation(
            json!({"ListenerArn": ARN, "Count": "3", "MinPriority": "100", "MaxPriority": "200"}),
        )
        .unwrap();
        assert_eq!((a.count, a.range), (3, 100..=200));
    }

    #[test]
    fn bad_ranges_say_what_is_allowed() {
        for (v, says) in [
            (
                json!({"ListenerArn": ARN, "MinPriority": "0"}),
                "MinPriority must be between 1 and 50000, got 0",
            ),
            (
                json!({"ListenerArn": ARN, "MaxPriority": "50001"}),
                "MaxPriority must be between 1 and 50000, got 50001",
            ),
            (
                json!({"ListenerArn": ARN, "MinPriority": "9", "MaxPriority": "8"}),
                "MinPriority 9 is above MaxPriority 8",
            ),
            (
                json!({"ListenerArn": ARN, "Count": "11"}),
                "Count must be between 1 and 10, got 11",
            ),
            (
                json!({"ListenerArn": "my-listener"}),
                "is not a listener ARN",
            ),
            (json!({"ListenerArn": ARN, "Count": "-1"}), "property Count"),
            (
                json!({"ListenerArn": ARN, "Placement": "First"}),
                "property Placement: unknown variant `First`, expected `Next` or `Last`",
            ),
        ] {
            let err = allocation(v).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
