//! The priority ledger: a DynamoDB table with one item per listener (partition key) and
//! priority (sort key), naming its owner and the place among the owner's rules it was
//! claimed for. One Query reads a listener's whole ledger; a claim of several priorities is
//! one transaction, all or nothing, each item only if absent.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use shared::Owner;

use crate::error::Error;

pub const TABLE_VARIABLE: &str = "LEDGER_TABLE";
const LISTENER: &str = "Listener";
const PRIORITY: &str = "Priority";
const OWNER: &str = "Owner";
const RECORD: &str = "Record";
const POSITION: &str = "Position";

pub struct Ledger {
    dynamo: Client,
    table: String,
}

/// One item: a priority and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub priority: u32,
    pub owner: String,
    /// Which of the owner's rules it is for (0 is the first); none on entries claimed before
    /// places were kept.
    pub position: Option<u32>,
}

/// A priority for one of the owner's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub position: u32,
    pub priority: u32,
}

/// How a claim ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    Committed,
    /// Another allocation holds a candidate (or our own claim holds it, its answer lost), or
    /// the transaction met another one: read the ledger again.
    Cancelled,
}

/// Why DynamoDB may cancel a claim that trying again can fix.
const RETRYABLE_CANCELLATIONS: [&str; 4] = [
    "None",
    "ConditionalCheckFailed",
    "TransactionConflict",
    "ThrottlingError",
];

/// What an entry's owner says, so ownership is one string comparison.
pub fn owner_value(owner: &Owner) -> String {
    format!(
        "stack={} logical-id={}",
        owner.stack_id, owner.logical_resource_id
    )
}

impl Ledger {
    pub fn from_env(dynamo: Client) -> Result<Self, String> {
        let table = std::env::var(TABLE_VARIABLE).unwrap_or_default();
        if table.trim().is_empty() {
            return Err(format!(
                "the function's {TABLE_VARIABLE} environment variable must name the DynamoDB table of the priority ledger (template.yaml sets it)"
            ));
        }
        Ok(Self { dynamo, table })
    }

    /// Every entry on the listener, every page.
    pub async fn list(&self, listener_arn: &str) -> Result<Vec<Entry>, Error> {
        let items = self.partition(listener_arn).await?;
        Ok(items.iter().filter_map(entry).collect())
    }

    /// Every item whose `Listener` is `key`, every page.
    async fn partition(&self, key: &str) -> Result<Vec<HashMap<String, AttributeValue>>, Error> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .query()
                .table_name(&self.table)
                .key_condition_expression("#l = :l")
                .expression_attribute_names("#l", LISTENER)
                .expression_attribute_values(":l", AttributeValue::S(key.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| aws("Query", &e))?;
            start = page.last_evaluated_key;
            items.extend(page.items.unwrap_or_default());
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Claims all of `places` for `owner` in one transaction. Its token is derived from the
    /// request and what it claims, so a retry after a lost answer (the SDK's, or a
    /// redelivered request's) is the same transaction, and no other request reuses it.
    pub async fn claim(
        &self,
        listener_arn: &str,
        places: &[Place],
        owner: &str,
        request_id: &str,
    ) -> Result<Claim, Error> {
        let items = places
            .iter()
            .map(|place| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .item(LISTENER, AttributeValue::S(listener_arn.to_owned()))
                    .item(PRIORITY, AttributeValue::N(place.priority.to_string()))
                    .item(OWNER, AttributeValue::S(owner.to_owned()))
                    .item(POSITION, AttributeValue::N(place.position.to_string()))
                    .condition_expression("attribute_not_exists(#p)")
                    .expression_attribute_names("#p", PRIORITY)
                    .build()
                    .map_err(|e| Error::Aws {
                        action: "TransactWriteItems",
                        message: e.to_string(),
                    })?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let result = self
            .dynamo
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token(request_id, listener_arn, places, owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Committed),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    Ok(Claim::Cancelled)
                }
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let codes: Vec<&str> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None"))
                        .collect();
                    if codes.iter().all(|c| RETRYABLE_CANCELLATIONS.contains(c)) {
                        Ok(Claim::Cancelled)
                    } else {
                        Err(Error::Aws {
                            action: "TransactWriteItems",
                            message: format!("cancelled: {}", codes.join(", ")),
                        })
                    }
                }
                _ => Err(aws("TransactWriteItems", &e)),
            },
        }
    }

    /// Writes down the place of an entry claimed before places were kept, if `owner` still
    /// holds it, so that it stays where it is when others of the owner's go.
    pub async fn set_position(
        &self,
        listener_arn: &str,
        place: Place,
        owner: &str,
    ) -> Result<(), Error> {
        let result = self
            .dynamo
            .update_item()
            .table_name(&self.table)
            .key(LISTENER, AttributeValue::S(listener_arn.to_owned()))
            .key(PRIORITY, AttributeValue::N(place.priority.to_string()))
            .update_expression("SET #p = :p")
            .condition_expression("#o = :o")
            .expression_attribute_names("#p", POSITION)
            .expression_attribute_names("#o", OWNER)
            .expression_attribute_values(":p", AttributeValue::N(place.position.to_string()))
            .expression_attribute_values(":o", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        // Released meanwhile: nothing to write down.
        unless_condition_failed(result, "UpdateItem", |s| {
            s.is_conditional_check_failed_exception()
        })
    }

    /// Keeps the resource's record of its properties (see
    /// `shared::CustomResource::recorded_properties`) in an item of its own: the partition
    /// names the owner and the listener, so no one else's record can be there. Without
    /// `replace`, only if there is none yet.
    pub async fn set_record(
        &self,
        listener_arn: &str,
        owner: &str,
        record: &str,
        replace: bool,
    ) -> Result<(), Error> {
        let mut put = self
            .dynamo
            .put_item()
            .table_name(&self.table)
            .item(
                LISTENER,
                AttributeValue::S(record_partition(listener_arn, owner)),
            )
            .item(PRIORITY, AttributeValue::N("0".into()))
            .item(OWNER, AttributeValue::S(owner.to_owned()))
            .item(RECORD, AttributeValue::S(record.to_owned()));
        if !replace {
            put = put
                .condition_expression("attribute_not_exists(#p)")
                .expression_attribute_names("#p", PRIORITY);
        }
        // A record there already (a late copy of the Create) is kept.
        unless_condition_failed(put.send().await, "PutItem", |s| {
            s.is_conditional_check_failed_exception()
        })
    }

    /// The record kept for `owner` on the listener, if any.
    pub async fn record(&self, listener_arn: &str, owner: &str) -> Result<Option<String>, Error> {
        let items = self
            .partition(&record_partition(listener_arn, owner))
            .await?;
        Ok(items
            .iter()
            .filter(|item| {
                item.get(OWNER)
                    .and_then(|o| o.as_s().ok())
                    .map(String::as_str)
                    == Some(owner)
            })
            .find_map(|item| item.get(RECORD)?.as_s().ok().cloned()))
    }

    /// Removes `owner`'s record on the listener.
    pub async fn remove_record(&self, listener_arn: &str, owner: &str) -> Result<(), Error> {
        self.release(&record_partition(listener_arn, owner), 0, owner)
            .await
    }

    /// Releases a priority if `owner` holds it; someone else's, or none, is left alone.
    pub async fn release(
        &self,
        listener_arn: &str,
        priority: u32,
        owner: &str,
    ) -> Result<(), Error> {
        let result = self
            .dynamo
            .delete_item()
            .table_name(&self.table)
            .key(LISTENER, AttributeValue::S(listener_arn.to_owned()))
            .key(PRIORITY, AttributeValue::N(priority.to_string()))
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", OWNER)
            .expression_attribute_values(":o", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        // Someone else's, or gone already: left alone.
        unless_condition_failed(result, "DeleteItem", |s| {
            s.is_conditional_check_failed_exception()
        })
    }
}

/// Records live apart from the listener's priorities, one partition per owner and listener.
fn record_partition(listener_arn: &str, owner: &str) -> String {
    format!("record of {owner} on {listener_arn}")
}

fn entry(item: &HashMap<String, AttributeValue>) -> Option<Entry> {
    let priority = item.get(PRIORITY)?.as_n().ok()?.parse().ok()?;
    let owner = item.get(OWNER)?.as_s().ok()?.clone();
    let position = item.get(POSITION).and_then(|p| p.as_n().ok()?.parse().ok());
    Some(Entry {
        priority,
        owner,
        position,
    })
}

/// An idempotency token (at most 36 characters) for one claim: FNV-1a over the request and
/// what it claims.
fn token(request_id: &str, listener_arn: &str, places: &[Place], owner: &str) -> String {
    let mut text = format!("{request_id}|{listener_arn}|{owner}");
    for p in places {
        text.push_str(&format!("|{}@{}", p.priority, p.position));
    }
    let mut hashes = [0xcbf2_9ce4_8422_2325_u64, 0x8422_2325_cbf2_9ce4_u64];
    for (i, hash) in hashes.iter_mut().enumerate() {
        for b in text.bytes().chain([i as u8]) {
            *hash = (*hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:016x}{:016x}", hashes[0], hashes[1])
}

/// Success, also when the call's condition did not hold.
fn unless_condition_failed<T, E>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E>>,
    action: &'static str,
    condition_failed: impl Fn(&E) -> bool,
) -> Result<(), Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(&condition_failed) => Ok(()),
        Err(e) => Err(aws(action, &e)),
    }
}

fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
    action: &'static str,
    error: &aws_sdk_dynamodb::error::SdkError<E>,
) -> Error {
    Error::Aws {
        action,
        message: shared::aws::aws_error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(priorities: &[u32]) -> Vec<Place> {
        (0..)
            .zip(priorities)
            .map(|(position, &priority)| Place { position, priority })
            .collect()
    }

    #[test]
    fn a_claims_token_is_stable_and_tells_claims_apart() {
        let t = token("r", "arn:l", &places(&[5, 6]), "o");
        assert_eq!(t, token("r", "arn:l", &places(&[5, 6]), "o"));
        assert!(t.len() <= 36);
        assert_ne!(t, token("r", "arn:l", &places(&[5, 7]), "o"));
        assert_ne!(t, token("r", "arn:l", &places(&[6, 5]), "o"));
        assert_ne!(t, token("r", "arn:l", &places(&[5, 6]), "p"));
        assert_ne!(t, token("r", "arn:m", &places(&[5, 6]), "o"));
        // Another request claiming the same never reuses the token.
        assert_ne!(t, token("s", "arn:l", &places(&[5, 6]), "o"));
    }
}
