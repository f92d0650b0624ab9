//! Retained parameters pass only to their owner. A retaining Delete marks a parameter
//! released, naming the stack name and logical id, the KMS key that encrypts it, and the IAM
//! role CloudFormation deployed the stack with. A later resource adopts it only with the
//! same name, logical id and key, and with proof that it is the same team's: a deployment
//! by the same role (only whoever may pass the role deploys with it), or the platform's
//! hand-over. A stack name alone proves nothing: anyone may create a stack of any free name.

use super::secure_parameter::{
    Key, ParameterError, RELEASED_TAG, STACK_TAG, SecureParameters, find, held_by, owner_in,
};
use super::stacks::CloudFormationStacks;
use crate::Owner;

/// Set by the platform (who alone may write `custom-resource:*` tags) to
/// `<stack id> <logical id>`, the full id of a stack that exists: that resource may adopt
/// the released parameter without a deployment role to prove it, under any key. Cleared by
/// the adoption.
pub const HAND_OVER_TAG: &str = "custom-resource:hand-over";

impl SecureParameters {
    /// Marks this owner's parameter as released (a Delete that retains it); with
    /// `physical_id`, only if that generation uses it now. Someone else's, or none, is left
    /// alone. `key_id` is the resource's `KmsKeyId` (none: SSM's default key), the key that
    /// encrypts it; one that cannot be checked any more is named by none, and then only a
    /// hand-over passes the parameter on. The stack's deployment role is read from
    /// CloudFormation. Returns whether it was marked.
    pub async fn release(
        &self,
        name: &str,
        owner: &Owner,
        physical_id: Option<&str>,
        key_id: Option<&str>,
        stacks: &CloudFormationStacks,
    ) -> Result<bool, ParameterError> {
        let Some(tags) = self.tags(name).await? else {
            return Ok(false);
        };
        if !held_by(&tags, owner, physical_id) {
            return Ok(false);
        }
        let role = stacks
            .deployment_role(&owner.stack_id)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "the stack's deployment role is unknown: only a hand-over can pass the parameter on");
                None
            });
        let key_id = key_id.unwrap_or(super::secure_parameter::DEFAULT_KMS_KEY);
        let key = self.check_key(key_id).await.map_err(|error| {
            tracing::warn!(%error, "released under no key: only a hand-over can pass it on");
        });
        let note = released_note(owner, key.ok().as_ref(), role.as_deref());
        self.add_tags(name, &[(RELEASED_TAG, &note)]).await?;
        Ok(true)
    }

    /// Takes over a parameter that a resource of the same stack name and logical id
    /// released; `Ok(true)` if it did, `Ok(false)` if it was not released to such a one.
    /// One released by that stack name and logical id is still refused unless the key is
    /// the same (the fresh password goes into it, and must stay readable only by whoever
    /// could read the old one) and the stack proves to be the same team's.
    pub async fn adopt_released(
        &self,
        name: &str,
        owner: &Owner,
        key: &Key,
        stacks: &CloudFormationStacks,
    ) -> Result<bool, ParameterError> {
        let Some(tags) = self.tags(name).await? else {
            return Ok(false);
        };
        let released = find(&tags, RELEASED_TAG).filter(|r| !r.is_empty());
        let same = owner_in(&tags).is_some_and(|previous| previous.same_name_as(owner));
        let Some(released) = released.filter(|_| same) else {
            return Ok(false);
        };
        let refused = |why: String| ParameterError::NotOurs {
            name: name.to_owned(),
            holder: format!(
                "released by stack {} resource {}; {why}",
                owner.stack_name(),
                owner.logical_resource_id
            ),
        };
        let (released_key, released_role) = key_and_role(&released).unwrap_or(("none", "none"));
        let handed = find(&tags, HAND_OVER_TAG).as_deref() == Some(&hand_over_value(owner));
        if !handed && released_key != key_id(&key.arn) {
            return Err(refused(format!(
                "it is handed only to a resource that names the KMS key it is encrypted with, not {}",
                key.arn
            )));
        }
        // The same stack coming back to a generation it replaced is proof enough.
        let same_stack = owner_in(&tags).is_some_and(|o| o.stack_id == owner.stack_id);
        if !handed && !same_stack {
            let role = stacks.deployment_role(&owner.stack_id).await.map_err(|e| {
                refused(format!(
                    "the stack's deployment role could not be read: {e}"
                ))
            })?;
            if released_role == "none" || Some(released_role) != role.as_deref().map(role_name) {
                return Err(refused("a stack of that name proves nothing: it is handed only to a stack deployed with the same CloudFormation service role (RoleARN) as the one that released it, or after the platform's hand-over (README, Retained objects)".into()));
            }
        }
        let adopted = [
            (STACK_TAG, owner.stack_id.as_str()),
            (RELEASED_TAG, ""),
            (HAND_OVER_TAG, ""),
        ];
        self.add_tags(name, &adopted).await?;
        tracing::info!(
            parameter = name,
            "adopted the parameter this stack's earlier deployment released"
        );
        Ok(true)
    }
}

/// `<when> by stack <name> resource <logical id> key <key id> role <role name>`: who let the
/// parameter go, and what a resource must show to take it over. Ids and names, not ARNs: a
/// tag value has 256 characters, and keys and roles are of the function's account.
fn released_note(owner: &Owner, key: Option<&Key>, role: Option<&str>) -> String {
    format!(
        "{} by stack {} resource {} key {} role {}",
        crate::utc_now(),
        owner.stack_name(),
        owner.logical_resource_id,
        key.map_or("none", |k| key_id(&k.arn)),
        role.map_or("none", role_name)
    )
}

/// What the platform writes into [`HAND_OVER_TAG`] to hand a parameter to a resource: the
/// stack's full id (a name would pass to whoever creates a stack of it first).
pub fn hand_over_value(owner: &Owner) -> String {
    format!("{} {}", owner.stack_id, owner.logical_resource_id)
}

fn key_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `arn:aws:iam::ACCOUNT:role/PATH/NAME` → `PATH/NAME`: the role within the account.
fn role_name(arn: &str) -> &str {
    arn.split_once(":role/").map_or(arn, |(_, name)| name)
}

/// The key and role a released note names: its last four words (stack names and logical
/// ids before them may be any word).
fn key_and_role(note: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = note.split_whitespace().collect();
    match words[words.len().checked_sub(4)?..] {
        ["key", key, "role", role] => Some((key, role)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_note_names_key_and_role_by_id() {
        let owner = Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/orders/abc".into(),
            logical_resource_id: "Db".into(),
        };
        let key = Key {
            arn: "arn:aws:kms:us-east-1:1:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        };
        let role = "arn:aws:iam::1:role/deploy/orders-deployer";
        let note = released_note(&owner, Some(&key), Some(role));
        assert!(
            note.ends_with(" by stack orders resource Db key 1234abcd-12ab-34cd-56ef-1234567890ab role deploy/orders-deployer"),
            "{note}"
        );
        assert_eq!(
            key_and_role(&note),
            Some((key_id(&key.arn), "deploy/orders-deployer"))
        );
        let bare = released_note(&owner, None, None);
        assert_eq!(key_and_role(&bare), Some(("none", "none")));
        // Released before keys and roles were recorded: neither.
        assert_eq!(
            key_and_role("2026-11-01T00:00:00Z by stack key resource role"),
            None
        );
        assert_eq!(
            hand_over_value(&owner),
            "arn:aws:cloudformation:us-east-1:1:stack/orders/abc Db"
        );
    }
}
