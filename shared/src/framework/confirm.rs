//! Whether CloudFormation is sending this request now. Anyone who may invoke the function
//! can write a request naming any stack, and a ResponseURL on CloudFormation's bucket is
//! easy to shape; only CloudFormation knows which of its resources are in progress. So
//! before any work the framework asks it (`DescribeStackResource`) about the request's
//! resource, through a [`StackReader`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::response::FAILED_CREATE_PREFIX;

/// What CloudFormation says of one resource of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    /// The stack's id as CloudFormation gives it: it must be the request's, letter for letter.
    pub stack_id: String,
    /// `ResourceStatus`, e.g. `CREATE_IN_PROGRESS`.
    pub status: String,
    /// The resource's current physical id, if it has one.
    pub physical_resource_id: Option<String>,
}

/// CloudFormation's answer about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The resource exists in the stack.
    Found(ResourceState),
    /// No such stack, or no such resource in it (CloudFormation's words).
    Missing(String),
}

/// Asks CloudFormation about stacks: `shared::aws` has the SDK's, tests a stand-in.
pub trait StackReader: Send + Sync + 'static {
    /// The resource `logical_id` of the stack `stack_id` (`DescribeStackResource`). `Err`
    /// when CloudFormation could not be asked (after the SDK's retries), saying why.
    fn resource(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> impl Future<Output = Result<Lookup, String>> + Send;

    /// The stack's status (`DescribeStacks`), `None` when there is no such stack.
    fn stack_status(
        &self,
        stack_id: &str,
    ) -> impl Future<Output = Result<Option<String>, String>> + Send;

    /// The status of the latest of the stack's events (`DescribeStackEvents`) for the
    /// resource `logical_id` with the physical id `physical_id`, `None` when none is found.
    fn latest_event(
        &self,
        stack_id: &str,
        logical_id: &str,
        physical_id: &str,
    ) -> impl Future<Output = Result<Option<String>, String>> + Send;
}

/// The request as far as the check needs it.
#[derive(Debug, Clone)]
pub(crate) struct Claim<'a> {
    pub request_type: &'a str,
    pub stack_id: &'a str,
    pub logical_id: &'a str,
    pub physical_id: Option<&'a str>,
    /// The ARN the function was invoked as: its partition, region and account.
    pub function_arn: &'a str,
}

/// What the check found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// CloudFormation is sending this request: do the work.
    Confirmed,
    /// Not a request CloudFormation is sending: do nothing, answer nothing.
    Refused(String),
    /// A stack this function does not serve, or CloudFormation could not be asked: answer
    /// FAILED with the reason, having done nothing.
    Failed(String),
}

/// Status reads that lag behind CloudFormation's own are read again this often...
const REREAD_EVERY: Duration = Duration::from_millis(1000);
/// ...at most this many times before a request is refused.
const REREADS: u32 = 2;

/// Stack statuses in which CloudFormation deletes resources it no longer uses: the old one
/// after a replacement, the new one after a rolled-back replacement.
const CLEANUP: [&str; 2] = [
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
];

/// Asks CloudFormation whether it is sending `claim` now; reads that do not yet show the
/// resource in progress are repeated a few times (reads may lag) while time is left.
pub(crate) async fn confirm<S: StackReader>(
    stacks: &S,
    claim: &Claim<'_>,
    until: Instant,
) -> Verdict {
    if let Err(reason) = same_account_and_region(claim.stack_id, claim.function_arn) {
        return Verdict::Failed(reason);
    }
    let mut rereads = 0;
    loop {
        let asked = tokio::time::timeout_at(until, judge(stacks, claim)).await;
        match asked {
            Err(_) => {
                return Verdict::Failed(
                    "CloudFormation did not answer in time whether it sent this request (DescribeStackResource); nothing was done".into(),
                );
            }
            Ok(Err(cause)) => {
                return Verdict::Failed(format!(
                    "could not ask CloudFormation whether it sent this request, so nothing was done: {cause}"
                ));
            }
            Ok(Ok(None)) => return Verdict::Confirmed,
            Ok(Ok(Some(reason))) => {
                if rereads == REREADS || Instant::now() + REREAD_EVERY >= until {
                    return Verdict::Refused(reason);
                }
                rereads += 1;
                tokio::time::sleep(REREAD_EVERY).await;
            }
        }
    }
}

/// `Ok(None)` when CloudFormation shows the request's resource in the state this request
/// belongs to; `Ok(Some(why not))` otherwise.
async fn judge<S: StackReader>(stacks: &S, claim: &Claim<'_>) -> Result<Option<String>, String> {
    let state = match stacks.resource(claim.stack_id, claim.logical_id).await? {
        Lookup::Found(state) => state,
        Lookup::Missing(why) => return Ok(Some(format!("CloudFormation: {why}"))),
    };
    if state.stack_id != claim.stack_id {
        return Ok(Some(format!(
            "CloudFormation knows the stack as {}, not {}",
            state.stack_id, claim.stack_id
        )));
    }
    let Some(cleanup_delete) = in_progress(claim, &state) else {
        return Ok(None);
    };
    if let (true, Some(physical_id)) = (cleanup_delete, claim.physical_id)
        && cleaning_up(stacks, claim, physical_id).await?
    {
        return Ok(None);
    }
    Ok(Some(format!(
        "CloudFormation shows resource {} of stack {} {} with physical id {}: no {} of {} is in progress",
        claim.logical_id,
        claim.stack_id,
        state.status,
        state.physical_resource_id.as_deref().unwrap_or("(none)"),
        claim.request_type,
        claim.physical_id.unwrap_or("a new resource"),
    )))
}

/// Whether CloudFormation is deleting the old physical resource `physical_id` in a cleanup
/// now: the stack cleans up, and the latest event of that physical resource says so. Any
/// other id, the current one above all, is not being cleaned up.
async fn cleaning_up<S: StackReader>(
    stacks: &S,
    claim: &Claim<'_>,
    physical_id: &str,
) -> Result<bool, String> {
    let stack = stacks.stack_status(claim.stack_id).await?;
    if !stack.as_deref().is_some_and(|s| CLEANUP.contains(&s)) {
        return Ok(false);
    }
    let event = stacks
        .latest_event(claim.stack_id, claim.logical_id, physical_id)
        .await?;
    Ok(event.as_deref() == Some("DELETE_IN_PROGRESS"))
}

/// `None` when the resource's state is the one this request belongs to; otherwise whether
/// it could still be a cleanup Delete (another physical id than the current one), which
/// the stack's status decides.
fn in_progress(claim: &Claim<'_>, state: &ResourceState) -> Option<bool> {
    let status = state.status.as_str();
    let current = state.physical_resource_id.as_deref();
    let same_id = current == claim.physical_id;
    let confirmed = match claim.request_type {
        // CloudFormation sends a custom resource no Create while updating it (a new
        // ServiceToken is refused; resources replace themselves within an Update).
        "Create" => status == "CREATE_IN_PROGRESS",
        "Update" => {
            matches!(status, "UPDATE_IN_PROGRESS" | "UPDATE_ROLLBACK_IN_PROGRESS") && same_id
        }
        // A failed Create may have left no physical id with CloudFormation.
        "Delete" => {
            let failed_create = current.is_none()
                && claim
                    .physical_id
                    .is_some_and(|id| id.starts_with(FAILED_CREATE_PREFIX));
            status == "DELETE_IN_PROGRESS" && (same_id || failed_create)
        }
        _ => false,
    };
    if confirmed {
        return None;
    }
    Some(claim.request_type == "Delete" && !same_id)
}

/// Stacks of another account or region are not this function's to serve: CloudFormation
/// there cannot be asked with the function's credentials.
fn same_account_and_region(stack_id: &str, function_arn: &str) -> Result<(), String> {
    let stack = arn_parts(stack_id, "cloudformation")
        .filter(|(_, _, _, resource)| resource.starts_with("stack/"))
        .ok_or_else(|| format!("StackId {stack_id:?} is not a CloudFormation stack ARN"))?;
    // Lambda always names the function by its ARN; `cargo lambda watch` does not. There,
    // a stack of another account is simply unknown to the CloudFormation asked.
    let Some(function) = arn_parts(function_arn, "lambda") else {
        return Ok(());
    };
    if (stack.0, stack.1, stack.2) != (function.0, function.1, function.2) {
        return Err(format!(
            "stack {stack_id} is in account {} region {}; this function serves only stacks of its own account {} in {}",
            stack.2, stack.1, function.2, function.1
        ));
    }
    Ok(())
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` → (partition, region, account, resource).
fn arn_parts<'a>(arn: &'a str, service: &str) -> Option<(&'a str, &'a str, &'a str, &'a str)> {
    let mut parts = arn.splitn(6, ':');
    let ("arn", partition, s, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ) else {
        return None;
    };
    let fields = [partition, region, account, resource];
    (s == service && fields.iter().all(|f| !f.is_empty()))
        .then_some((partition, region, account, resource))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:111122223333:stack/orders/1";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:111122223333:function:f";

    struct Stacks {
        resource: Result<Lookup, String>,
        stack: Option<String>,
        /// The latest event's status of the physical id `old`.
        event: Option<String>,
        reads: Mutex<u32>,
    }

    impl StackReader for Stacks {
        async fn resource(&self, _: &str, _: &str) -> Result<Lookup, String> {
            *self.reads.lock().unwrap() += 1;
            self.resource.clone()
        }
        async fn stack_status(&self, _: &str) -> Result<Option<String>, String> {
            Ok(self.stack.clone())
        }
        async fn latest_event(&self, _: &str, _: &str, id: &str) -> Result<Option<String>, String> {
            Ok(self.event.clone().filter(|_| id == "old"))
        }
    }

    fn stacks(status: &str, physical: Option<&str>, stack: &str) -> Stacks {
        Stacks {
            resource: Ok(Lookup::Found(ResourceState {
                stack_id: STACK.into(),
                status: status.into(),
                physical_resource_id: physical.map(Into::into),
            })),
            stack: Some(stack.into()),
            event: Some("DELETE_IN_PROGRESS".into()),
            reads: Mutex::new(0),
        }
    }

    fn claim<'a>(request_type: &'a str, physical: Option<&'a str>) -> Claim<'a> {
        Claim {
            request_type,
            stack_id: STACK,
            logical_id: "Db",
            physical_id: physical,
            function_arn: FUNCTION,
        }
    }

    async fn verdict(s: &Stacks, c: &Claim<'_>) -> Verdict {
        confirm(s, c, Instant::now() + Duration::from_secs(60)).await
    }

    #[tokio::test(start_paused = true)]
    async fn requests_of_resources_in_progress_are_confirmed() {
        for (kind, status, physical, current) in [
            ("Create", "CREATE_IN_PROGRESS", None, None),
            ("Update", "UPDATE_IN_PROGRESS", Some("a"), Some("a")),
            (
                "Update",
                "UPDATE_ROLLBACK_IN_PROGRESS",
                Some("a"),
                Some("a"),
            ),
            ("Delete", "DELETE_IN_PROGRESS", Some("a"), Some("a")),
            (
                "Delete",
                "DELETE_IN_PROGRESS",
                Some("create-failed:r"),
                None,
            ),
        ] {
            let s = stacks(status, current, "UPDATE_IN_PROGRESS");
            assert_eq!(
                verdict(&s, &claim(kind, physical)).await,
                Verdict::Confirmed,
                "{kind} {status}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_of_resources_at_rest_are_refused_after_rereading() {
        for (kind, status, physical, current) in [
            ("Create", "CREATE_COMPLETE", None, Some("a")),
            ("Create", "UPDATE_IN_PROGRESS", None, Some("a")),
            ("Update", "UPDATE_COMPLETE", Some("a"), Some("a")),
            ("Update", "UPDATE_IN_PROGRESS", Some("other"), Some("a")),
            ("Delete", "CREATE_COMPLETE", Some("a"), Some("a")),
            ("Delete", "DELETE_IN_PROGRESS", Some("other"), Some("a")),
            ("Delete", "DELETE_IN_PROGRESS", Some("other"), None),
            (
                "Delete",
                "UPDATE_ROLLBACK_IN_PROGRESS",
                Some("a"),
                Some("a"),
            ),
            ("Delete", "ROLLBACK_IN_PROGRESS", Some("a"), Some("a")),
        ] {
            let s = stacks(status, current, "UPDATE_COMPLETE");
            let v = verdict(&s, &claim(kind, physical)).await;
            assert!(
                matches!(&v, Verdict::Refused(r) if r.contains(status)),
                "{kind} {status}: {v:?}"
            );
            assert_eq!(*s.reads.lock().unwrap(), 1 + REREADS);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_cleanup_delete_of_a_replaced_resource_is_confirmed_by_the_stack_status() {
        for stack in CLEANUP {
            let s = stacks("UPDATE_COMPLETE", Some("new"), stack);
            assert_eq!(
                verdict(&s, &claim("Delete", Some("old"))).await,
                Verdict::Confirmed
            );
        }
        // The current resource is not deleted in a cleanup.
        let s = stacks("UPDATE_COMPLETE", Some("new"), CLEANUP[0]);
        let v = verdict(&s, &claim("Delete", Some("new"))).await;
        assert!(matches!(v, Verdict::Refused(_)), "{v:?}");
        // Nor is an old id outside one.
        let s = stacks("UPDATE_COMPLETE", Some("new"), "UPDATE_COMPLETE");
        let v = verdict(&s, &claim("Delete", Some("old"))).await;
        assert!(matches!(v, Verdict::Refused(_)), "{v:?}");
        // Nor, in one, an id CloudFormation is not deleting: any other, or one it deleted.
        let s = stacks("UPDATE_COMPLETE", Some("new"), CLEANUP[0]);
        let v = verdict(&s, &claim("Delete", Some("create-failed:x"))).await;
        assert!(matches!(v, Verdict::Refused(_)), "{v:?}");
        let mut s = stacks("UPDATE_COMPLETE", Some("new"), CLEANUP[0]);
        s.event = Some("DELETE_COMPLETE".into());
        let v = verdict(&s, &claim("Delete", Some("old"))).await;
        assert!(matches!(v, Verdict::Refused(_)), "{v:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stack_known_by_another_id_is_refused() {
        let s = stacks("CREATE_IN_PROGRESS", None, "");
        let c = Claim {
            stack_id: "arn:aws:cloudformation:us-east-1:111122223333:stack/other-name/1",
            ..claim("Create", None)
        };
        let v = verdict(&s, &c).await;
        assert!(
            matches!(&v, Verdict::Refused(r) if r.contains("knows the stack as")),
            "{v:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_resource_is_refused_and_an_unreachable_cloudformation_fails() {
        let mut s = stacks("", None, "");
        s.resource = Ok(Lookup::Missing("Stack with id x does not exist".into()));
        let v = verdict(&s, &claim("Create", None)).await;
        assert!(
            matches!(&v, Verdict::Refused(r) if r.contains("does not exist")),
            "{v:?}"
        );
        s.resource = Err("Throttling: Rate exceeded".into());
        let v = verdict(&s, &claim("Create", None)).await;
        assert!(
            matches!(&v, Verdict::Failed(r) if r.contains("Rate exceeded")),
            "{v:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stacks_of_another_account_or_region_fail_before_cloudformation_is_asked() {
        let s = stacks("CREATE_IN_PROGRESS", None, "");
        for stack_id in [
            "arn:aws:cloudformation:us-east-1:444455556666:stack/orders/1",
            "arn:aws:cloudformation:eu-west-1:111122223333:stack/orders/1",
            "orders",
        ] {
            let c = Claim {
                stack_id,
                ..claim("Create", None)
            };
            let v = verdict(&s, &c).await;
            assert!(matches!(v, Verdict::Failed(_)), "{stack_id}: {v:?}");
        }
        assert_eq!(*s.reads.lock().unwrap(), 0);
    }
}
