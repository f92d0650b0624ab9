//! What a function implements, and what it is handed.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use serde::de::DeserializeOwned;

use super::properties::{Lenient, Validate};

/// The CloudFormation resource a request is about: who owns what this function creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The stack's ARN.
    pub stack_id: String,
    /// The resource's name in the template.
    pub logical_resource_id: String,
}

impl Owner {
    /// `arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID` → `NAME`: what stays the same
    /// when a stack is deleted and deployed again.
    pub fn stack_name(&self) -> &str {
        self.stack_id.split('/').nth(1).unwrap_or(&self.stack_id)
    }

    /// Whether `other` is this resource in a stack of the same name (a later deployment).
    pub fn same_name_as(&self, other: &Owner) -> bool {
        self.stack_name() == other.stack_name()
            && self.logical_resource_id == other.logical_resource_id
    }
}

/// The time now as `YYYY-MM-DDTHH:MM:SSZ`, for marks that say when something happened.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[derive(Debug)]
/// A Create request, its properties parsed and checked.
pub struct Create<P> {
    /// Whose resource this is.
    pub owner: Owner,
    /// CloudFormation's id of this request: the same when a request is delivered again.
    pub request_id: String,
    /// The ARN the function was invoked as: its partition, region and account.
    pub function_arn: String,
    /// The properties, parsed strictly and validated.
    pub properties: P,
    /// Keep this with what the Create makes, and give it back from
    /// [`CustomResource::recorded_properties`]: it identifies the properties the resource is in.
    pub record: String,
}

#[derive(Debug)]
/// An Update request: new properties checked, old ones read leniently.
pub struct Update<P, O = P> {
    /// Whose resource this is.
    pub owner: Owner,
    /// CloudFormation's id of this request.
    pub request_id: String,
    /// The id the resource answered last; answering another one replaces it.
    pub physical_resource_id: String,
    /// The ARN the function was invoked as: its partition, region and account.
    pub function_arn: String,
    /// The new properties, parsed strictly and validated (leniently in a rollback).
    pub properties: P,
    /// Keep this with the resource in place of the record it had, and give it back from
    /// [`CustomResource::recorded_properties`]: it identifies the properties the resource is
    /// in, and those it was in before.
    pub record: String,
    /// The properties as they were, read leniently.
    pub old_properties: Lenient<O>,
    /// Set when `properties` fail today's checks but are ones this resource was in (by
    /// [`CustomResource::recorded_properties`]): CloudFormation is rolling back to them, and
    /// they were read leniently. Skip checks that may have been tightened since; do not fail
    /// on them.
    pub rollback: bool,
}

impl<O> Update<(), O> {
    pub(crate) fn with_properties<P>(self, properties: P) -> Update<P, O> {
        Update {
            owner: self.owner,
            request_id: self.request_id,
            physical_resource_id: self.physical_resource_id,
            function_arn: self.function_arn,
            properties,
            record: self.record,
            old_properties: self.old_properties,
            rollback: self.rollback,
        }
    }
}

#[derive(Debug)]
/// A Delete request: it never fails on its properties.
pub struct Delete<P> {
    /// Whose resource this is.
    pub owner: Owner,
    /// CloudFormation's id of this request.
    pub request_id: String,
    /// The id of what to delete.
    pub physical_resource_id: String,
    /// Read leniently: a stack must stay deletable whatever its properties say.
    pub properties: Lenient<P>,
}

/// What a successful Create or Update returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The id CloudFormation keeps; a new one on Update replaces the resource.
    pub physical_resource_id: String,
    /// The attributes `Fn::GetAtt` can read.
    pub data: BTreeMap<String, String>,
}

impl Outcome {
    /// An outcome with this id and no attributes.
    pub fn new(physical_resource_id: impl Into<String>) -> Self {
        Self {
            physical_resource_id: physical_resource_id.into(),
            data: BTreeMap::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, attribute: &str, value: impl Into<String>) -> Self {
        self.data.insert(attribute.to_owned(), value.into());
        self
    }
}

/// Names the step the work is in, so a timeout or panic can say where it happened (each
/// step is logged once), and says how long the work may take.
#[derive(Clone, Debug)]
pub struct Progress {
    step: Arc<Mutex<String>>,
    deadline: Instant,
    undo_deadline: Instant,
}

impl Progress {
    pub(crate) fn new(first: &str, deadline: Instant, undo_deadline: Instant) -> Self {
        Self {
            step: Arc::new(Mutex::new(first.to_owned())),
            deadline,
            undo_deadline,
        }
    }

    /// Names the step the work is in now, and logs it.
    pub fn step(&self, step: impl Into<String>) {
        let step = step.into();
        tracing::info!(step = %step, "step");
        if let Ok(mut current) = self.step.lock() {
            *current = step;
        }
    }

    /// When the work should stop: waits (statements, locks, retries) end by then, so that
    /// what the request changed can still be taken back before the framework answers.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The time left until [`Progress::deadline`].
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// When taking back must be over: after that the work is stopped and FAILED is sent.
    pub fn undo_deadline(&self) -> Instant {
        self.undo_deadline
    }

    pub(crate) fn current(&self) -> String {
        match self.step.lock() {
            Ok(current) => current.clone(),
            // A panic while holding the lock still leaves a readable step.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// A custom resource: typed properties in, an [`Outcome`] out. Everything else — parsing,
/// deadline, panics, the response — is the framework's.
pub trait CustomResource: Send + Sync + 'static {
    /// The properties, declared once. Create's and Update's are parsed strictly (unknown
    /// names rejected, [`Validate`] run; the `properties` helpers accept CloudFormation's
    /// strings for numbers and booleans). Delete's and an Update's old ones are read
    /// leniently into a [`Lenient`], so a stack always stays deletable.
    type Properties: DeserializeOwned + Validate + Send + Sync + 'static;
    /// What can go wrong; its text (with its causes) becomes the FAILED reason.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Set when the response carries secrets: CloudFormation then masks the attributes.
    const NO_ECHO: bool = false;

    /// Set when a Create can fail after something was claimed that only the resource can
    /// find again: the Delete CloudFormation sends for a failed Create (id
    /// `create-failed:<RequestId>`) then reaches [`CustomResource::delete`] with the Create's
    /// properties. Otherwise the framework answers it SUCCESS without touching anything.
    const CLEANS_UP_FAILED_CREATES: bool = false;

    /// The last [`Create::record`] or [`Update::record`] this resource kept, if any. An
    /// Update whose properties fail validation goes on, read leniently, only when the record
    /// names them: CloudFormation is then rolling the resource back to where it was. Without
    /// a record (the default) such an Update fails like any other invalid one.
    fn recorded_properties(
        &self,
        request: &Update<(), Self::Properties>,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send {
        let _ = request;
        async { Ok(None) }
    }

    /// Makes the resource; the outcome's id is what CloudFormation keeps.
    fn create(
        &self,
        request: Create<Self::Properties>,
        progress: &Progress,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// Changes the resource; a new id in the outcome makes it a replacement.
    fn update(
        &self,
        request: Update<Self::Properties>,
        progress: &Progress,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// Deletes the resource; something already gone is a success.
    fn delete(
        &self,
        request: Delete<Self::Properties>,
        progress: &Progress,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_deployment_of_the_same_stack_has_the_same_name() {
        let owner = |id: &str, logical: &str| Owner {
            stack_id: id.into(),
            logical_resource_id: logical.into(),
        };
        let first = owner("arn:aws:cloudformation:us-east-1:1:stack/orders/aaa", "Db");
        assert_eq!(first.stack_name(), "orders");
        assert!(first.same_name_as(&owner(
            "arn:aws:cloudformation:us-east-1:1:stack/orders/bbb",
            "Db"
        )));
        assert!(!first.same_name_as(&owner(
            "arn:aws:cloudformation:us-east-1:1:stack/orders/bbb",
            "Other"
        )));
        assert!(!first.same_name_as(&owner(
            "arn:aws:cloudformation:us-east-1:1:stack/billing/aaa",
            "Db"
        )));
    }

    #[test]
    fn utc_now_is_an_iso_timestamp() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(
            now.starts_with("20") && now.ends_with('Z') && &now[10..11] == "T",
            "{now}"
        );
    }
}
