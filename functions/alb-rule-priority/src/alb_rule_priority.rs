//! Create / update / delete of a service's listener rule priorities.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use rand::RngExt;
use shared::{Create, CustomResource, Delete, Outcome, Owner, Progress, Update};

use crate::choice;
use crate::error::Error;
use crate::ledger::{Claim, Entry, Ledger, Place, owner_value};
use crate::listener;
use crate::places::{self, Kept};
use crate::properties::{Allocation, Properties};

pub struct AlbRulePriority {
    elb: Client,
    ledger: Ledger,
}

/// One resource per listener: a new listener is a new physical id.
fn physical_id(listener_arn: &str, owner: &Owner) -> String {
    format!("{listener_arn}#{}", owner.logical_resource_id)
}

/// How many times a claim is tried against other allocations before giving up.
const MAX_CLAIMS: u64 = 30;

/// What a reconcile is for.
#[derive(Clone, Copy)]
struct Request<'a> {
    id: &'a str,
    /// The resource's record of its properties, kept before anything changes, so that a
    /// rollback from a failure part-way is recognised.
    record: &'a str,
    /// An Update's: surplus priorities go, and the record is replaced. A Create only adds,
    /// and a late copy of it keeps the record an Update wrote since.
    releases_surplus: bool,
}

/// What one reading of the ledger says this owner should do.
struct Plan {
    /// This owner's entries on the listener.
    mine: BTreeSet<u32>,
    /// Those it keeps, each at its rule's place.
    kept: Kept,
    /// What to claim for the places left, in one transaction.
    claim: Vec<Place>,
}

impl Plan {
    fn claimed(&self) -> Vec<u32> {
        self.claim.iter().map(|c| c.priority).collect()
    }

    /// The priorities by place, the first rule's first.
    fn priorities(&self) -> Vec<u32> {
        // Claims are made for the free places in order.
        let mut claimed = self.claim.iter().map(|c| c.priority);
        self.kept
            .places
            .iter()
            .filter_map(|kept| kept.or_else(|| claimed.next()))
            .collect()
    }
}

impl AlbRulePriority {
    pub fn new(elb: Client, ledger: Ledger) -> Self {
        Self { elb, ledger }
    }

    /// Brings this owner's entries on the listener to `count` priorities in the range: keeps
    /// those that still fit, claims the rest in one transaction (read again and retried when
    /// another allocation wins a candidate), then, on an Update, releases the surplus. A
    /// Create only adds: a late copy of it must not take back what an Update added since.
    async fn reconcile(
        &self,
        want: &Allocation,
        owner: &Owner,
        request: Request<'_>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let arn = &want.listener_arn;
        let me = owner_value(owner);
        self.ledger
            .set_record(arn, &me, request.record, request.releases_surplus)
            .await?;
        let mut attempt: u64 = 0;
        let plan = loop {
            attempt += 1;
            // Read again on every round: a rule made meanwhile counts too.
            progress.step(format!(
                "reading the rules and the ledger of listener {arn}"
            ));
            let rules = listener::rule_priorities(&self.elb, arn).await?;
            let plan = self.plan(want, &rules, &me).await?;
            if plan.claim.is_empty() {
                break plan;
            }
            progress.step(format!(
                "claiming priorities {:?} on listener {arn}",
                plan.claimed()
            ));
            match self.ledger.claim(arn, &plan.claim, &me, request.id).await? {
                Claim::Committed => break plan,
                Claim::Cancelled if attempt < MAX_CLAIMS => {
                    // Someone won a candidate, or our own claim's answer was lost: read again.
                    tracing::info!(attempt, candidates = ?plan.claimed(), "claim cancelled; reading the ledger again");
                    let pause = 20 * attempt.min(10) + rand::rng().random_range(0..50);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Claim::Cancelled => return Err(Error::Contended(attempt)),
            }
        };
        let priorities = self
            .settle(arn, &plan, &me, request.releases_surplus, progress)
            .await;
        let listed: Vec<String> = priorities.iter().map(u32::to_string).collect();
        tracing::info!(priorities = %listed.join(","), "allocated");
        Ok(Outcome::new(physical_id(arn, owner))
            .with("Priority", listed.first().cloned().unwrap_or_default())
            .with("Priorities", listed.join(",")))
    }

    /// After the claim: writes down the places inferred for entries that had none and, on an
    /// Update, releases the surplus; returns the priorities by place. The claim is done, so a
    /// write or a release that fails is left to the next Update (or the Delete), not turned
    /// into a FAILED.
    async fn settle(
        &self,
        arn: &str,
        plan: &Plan,
        me: &str,
        releases_surplus: bool,
        progress: &Progress,
    ) -> Vec<u32> {
        for place in &plan.kept.unrecorded {
            if let Err(error) = self.ledger.set_position(arn, *place, me).await {
                tracing::warn!(priority = place.priority, error = %error, "place not written down");
            }
        }
        let priorities = plan.priorities();
        if releases_surplus {
            for surplus in plan.mine.iter().filter(|p| !priorities.contains(p)) {
                progress.step(format!("releasing priority {surplus}"));
                if let Err(error) = self.ledger.release(arn, *surplus, me).await {
                    tracing::warn!(priority = surplus, error = %error, "surplus not released");
                }
            }
        }
        priorities
    }

    /// Reads the ledger and decides what to keep and what to claim.
    async fn plan(
        &self,
        want: &Allocation,
        rules: &BTreeSet<u32>,
        me: &str,
    ) -> Result<Plan, Error> {
        let entries = self.ledger.list(&want.listener_arn).await?;
        let mine: Vec<&Entry> = entries.iter().filter(|e| e.owner == me).collect();
        let kept = places::kept(&mine, want.count, &want.range);
        let taken: BTreeSet<u32> = rules
            .iter()
            .copied()
            .chain(entries.iter().map(|e| e.priority))
            .collect();
        let free: Vec<u32> = (0..)
            .zip(&kept.places)
            .filter_map(|(position, kept)| kept.is_none().then_some(position))
            .collect();
        let mut new: Vec<u32> = choice::candidates(&taken, want.range.clone(), want.placement)
            .take(free.len())
            .collect();
        // New ones go to the free places in ascending order, as a Create has always answered.
        new.sort_unstable();
        let claim: Vec<Place> = free
            .iter()
            .zip(&new)
            .map(|(&position, &priority)| Place { position, priority })
            .collect();
        if claim.len() < free.len() {
            return Err(Error::Full {
                low: *want.range.start(),
                high: *want.range.end(),
                size: want.range.end() - want.range.start() + 1,
                taken: taken.range(want.range.clone()).count(),
            });
        }
        Ok(Plan {
            mine: mine.iter().map(|e| e.priority).collect(),
            kept,
            claim,
        })
    }
}

impl CustomResource for AlbRulePriority {
    type Properties = Properties;
    type Error = Error;
    // A Create may fail after its claim was applied (the answer lost, the time up): its
    // Delete releases what this owner holds on the listener.
    const CLEANS_UP_FAILED_CREATES: bool = true;

    async fn create(
        &self,
        request: Create<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let want = request.properties.allocation()?;
        let only_add = Request {
            id: &request.request_id,
            record: &request.record,
            releases_surplus: false,
        };
        self.reconcile(&want, &request.owner, only_add, progress)
            .await
    }

    /// A new listener is a new resource (CloudFormation then deletes the old one, releasing
    /// its priorities); otherwise the priorities that still fit are kept, so rules never move.
    async fn update(
        &self,
        request: Update<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let in_place = physical_id(&request.properties.listener_arn, &request.owner)
            == request.physical_resource_id;
        let want = match request.properties.allocation() {
            // Rolling back to a range today's rules refuse: the nearest one they allow.
            Err(error) if request.rollback && in_place => {
                tracing::warn!(%error, "rolling back to a range refused today: brought within bounds");
                request.properties.allocation_within_bounds()
            }
            want => want?,
        };
        let converge = Request {
            id: &request.request_id,
            record: &request.record,
            releases_surplus: true,
        };
        self.reconcile(&want, &request.owner, converge, progress)
            .await
    }

    async fn recorded_properties(
        &self,
        request: &Update<(), Properties>,
    ) -> Result<Option<String>, Error> {
        let Some((listener, _)) = request.physical_resource_id.rsplit_once('#') else {
            return Ok(None);
        };
        self.ledger
            .record(listener, &owner_value(&request.owner))
            .await
    }

    async fn delete(&self, request: Delete<Properties>, progress: &Progress) -> Result<(), Error> {
        // The listener the id names: the properties only for a failed Create, whose id
        // names none. A Delete never reaches past the generation it deletes.
        let listener = request
            .physical_resource_id
            .rsplit_once('#')
            .map(|(arn, _)| arn.to_owned())
            .filter(|l| l.contains(":listener/"))
            .or_else(|| request.properties.text("ListenerArn"));
        let Some(listener) = listener.filter(|l| l.contains(":listener/")) else {
            tracing::warn!("no listener named; nothing to release");
            return Ok(());
        };
        let me = owner_value(&request.owner);
        for entry in self.ledger.list(&listener).await? {
            if entry.owner == me {
                progress.step(format!("releasing priority {}", entry.priority));
                self.ledger.release(&listener, entry.priority, &me).await?;
            }
        }
        self.ledger.remove_record(&listener, &me).await
    }
}
