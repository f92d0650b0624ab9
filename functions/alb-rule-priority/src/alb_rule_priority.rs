//! Create / update / delete of a service's listener rule priorities.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::Client;
use shared::{Create, CustomResource, Delete, Outcome, Owner, Progress, Update};

use crate::choice;
use crate::listener;
use crate::properties::{Allocation, Existing, InvalidRange, Properties};
use crate::reservations::{Reservations, owner_value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Range(#[from] InvalidRange),
    #[error("ListenerArn {0}: no such listener; give the ARN of an existing listener")]
    NoListener(String),
    #[error("{action} failed: {message}")]
    Aws {
        action: &'static str,
        message: String,
    },
    #[error(
        "no free priority left: the range {low} to {high} holds {size} rules and {taken} of them are taken by rules or reservations on the listener; widen MinPriority/MaxPriority or free some"
    )]
    Full {
        low: u32,
        high: u32,
        size: u32,
        taken: usize,
    },
}

pub struct AlbRulePriority {
    elb: Client,
    reservations: Reservations,
}

/// One resource per listener: a new listener is a new physical id.
fn physical_id(listener_arn: &str, owner: &Owner) -> String {
    format!("{listener_arn}#{}", owner.logical_resource_id)
}

impl AlbRulePriority {
    pub fn new(elb: Client, reservations: Reservations) -> Self {
        Self { elb, reservations }
    }

    /// Brings this resource's reservations on the listener to `count` priorities in the
    /// range: keeps those that still fit, claims the rest, then releases the surplus.
    async fn reconcile(
        &self,
        want: &Allocation,
        owner: &Owner,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let arn = &want.listener_arn;
        progress.step(format!("reading the rules of listener {arn}"));
        let rules = listener::rule_priorities(&self.elb, arn).await?;
        progress.step("reading the reservations on the listener");
        let reservations = self.reservations.list(arn).await?;
        let me = owner_value(owner);
        let mine: BTreeSet<u32> = reservations
            .iter()
            .filter(|(_, holder)| *holder == me)
            .map(|(priority, _)| *priority)
            .collect();
        let keep: BTreeSet<u32> = mine
            .iter()
            .copied()
            .filter(|p| want.range.contains(p))
            .take(want.count)
            .collect();
        let taken: BTreeSet<u32> = rules
            .iter()
            .copied()
            .chain(reservations.iter().map(|(p, _)| *p))
            .collect();

        let need = want.count - keep.len();
        let mut claimed = Vec::new();
        if need > 0 {
            progress.step(format!("claiming {need} priorities on listener {arn}"));
            if let Err(error) = self.claim(want, &taken, need, owner, &mut claimed).await {
                for priority in claimed {
                    let _ = self.reservations.release(arn, priority).await;
                }
                return Err(error);
            }
        }
        for surplus in mine.difference(&keep) {
            progress.step(format!("releasing priority {surplus}"));
            self.reservations.release(arn, *surplus).await?;
        }
        let priorities: BTreeSet<u32> = keep.into_iter().chain(claimed).collect();
        let listed: Vec<String> = priorities.iter().map(u32::to_string).collect();
        tracing::info!(priorities = %listed.join(","), "allocated");
        Ok(Outcome::new(physical_id(arn, owner))
            .with("Priority", listed.first().cloned().unwrap_or_default())
            .with("Priorities", listed.join(",")))
    }

    /// Claims `need` free priorities, each atomically; a lost claim means another
    /// allocation won it, and the next candidate is tried.
    async fn claim(
        &self,
        want: &Allocation,
        taken: &BTreeSet<u32>,
        need: usize,
        owner: &Owner,
        claimed: &mut Vec<u32>,
    ) -> Result<(), Error> {
        for candidate in choice::candidates(taken, want.range.clone()) {
            if claimed.len() == need {
                return Ok(());
            }
            if self
                .reservations
                .claim(&want.listener_arn, candidate, owner)
                .await?
            {
                claimed.push(candidate);
            } else {
                tracing::info!(
                    priority = candidate,
                    "taken by another allocation; trying the next"
                );
            }
        }
        if claimed.len() == need {
            return Ok(());
        }
        Err(Error::Full {
            low: *want.range.start(),
            high: *want.range.end(),
            size: want.range.end() - want.range.start() + 1,
            taken: taken.range(want.range.clone()).count(),
        })
    }
}

impl CustomResource for AlbRulePriority {
    type Properties = Properties;
    type ExistingProperties = Existing;
    type Error = Error;

    async fn create(
        &self,
        request: Create<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let want = request.properties.allocation()?;
        self.reconcile(&want, &request.owner, progress).await
    }

    /// A new listener is a new resource (CloudFormation then deletes the old one, releasing
    /// its priorities); otherwise the priorities that still fit are kept, so rules never move.
    async fn update(
        &self,
        request: Update<Properties, Existing>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let want = request.properties.allocation()?;
        self.reconcile(&want, &request.owner, progress).await
    }

    async fn delete(&self, request: Delete<Existing>, progress: &Progress) -> Result<(), Error> {
        let listener = request.properties.listener_arn.clone().or_else(|| {
            request
                .physical_resource_id
                .rsplit_once('#')
                .map(|(arn, _)| arn.to_owned())
        });
        let Some(listener) = listener.filter(|l| l.contains(":listener/")) else {
            tracing::warn!("no listener named; nothing to release");
            return Ok(());
        };
        let me = owner_value(&request.owner);
        for (priority, holder) in self.reservations.list(&listener).await? {
            if holder == me {
                progress.step(format!("releasing priority {priority}"));
                self.reservations.release(&listener, priority).await?;
            }
        }
        Ok(())
    }
}
