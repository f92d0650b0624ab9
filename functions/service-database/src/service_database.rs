//! Create / update / delete of a service's database, login role and password parameter.

use shared::parameter_name::validate_name;
use shared::password::{PasswordOptions, PasswordPolicy, Secret};
use shared::properties::shorten;
use shared::secure_parameter::{DEFAULT_KMS_KEY, Key, SecureParameters};
use shared::stacks::CloudFormationStacks;
use shared::{
    Create, CustomResource, Delete, FAILED_CREATE_PREFIX, Lenient, Outcome, Owner, Progress, Update,
};

use crate::admin_credentials::AdminCredentials;
use crate::cluster::{self, Cluster};
use crate::error::Error;
use crate::identifiers;
use crate::profile::{Profile, Profiles};
use crate::properties::{self, MAX_PHYSICAL_ID, OnDelete, Properties, on_delete};

pub struct ServiceDatabase {
    parameters: SecureParameters,
    profiles: Profiles,
    admin: AdminCredentials,
    /// Which role deploys a stack: retained objects pass only to the same one.
    stacks: CloudFormationStacks,
}

/// What one Create or Update is to bring about.
struct Goal<'a> {
    properties: &'a Properties,
    profile: Profile,
    owner: &'a Owner,
    physical_id: String,
    /// A new password (RotationToken changed, or adopting what was released).
    rotate: bool,
    /// The RotationToken before this request (an Update's old properties).
    old_token: Option<String>,
    /// The parameter is one an earlier deployment of this stack released: its history
    /// (rotation labels included) is that deployment's.
    parameter_adopted: bool,
    /// The parameter must be written again under another key.
    rewrite_key: bool,
    /// The parameter the password lived in until now, when PasswordParameterName changed.
    previous_parameter: Option<String>,
    /// What to keep with the parameter as the record of the properties.
    record: &'a str,
    /// CloudFormation rolls back to properties today's checks refuse: do not fail on them.
    rollback: bool,
    /// A Create, not an Update.
    create: bool,
}

/// What a Create or Update checked and found before changing anything.
struct Before {
    policy: PasswordPolicy,
    key: Key,
    role: Found,
    database: Found,
}

/// What this request created or changed, to take back if a later step fails.
#[derive(Default)]
struct Undo {
    parameter: bool,
    previous_value: Option<Secret>,
    /// The role's password before this request set a new one.
    role_password: Option<Secret>,
    role: bool,
    database: bool,
}

/// What a name on the cluster turned out to be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    Absent,
    Ours,
    /// Released by an earlier deployment of this stack name and logical id.
    Released,
}

#[derive(Clone, Copy)]
enum Kind {
    Role,
    Database,
}

impl ServiceDatabase {
    pub fn new(
        parameters: SecureParameters,
        profiles: Profiles,
        admin: AdminCredentials,
        stacks: CloudFormationStacks,
    ) -> Self {
        Self {
            parameters,
            profiles,
            admin,
            stacks,
        }
    }

    /// The cluster's profile, if this stack may use it. The id is checked first: it must fit
    /// where it is kept, and nothing is read or changed for one that does not.
    async fn profile(
        &self,
        physical_id: &str,
        cluster: &str,
        owner: &Owner,
        progress: &Progress,
    ) -> Result<Profile, Error> {
        let length = physical_id.chars().count();
        if length > MAX_PHYSICAL_ID {
            return Err(Error::IdTooLong {
                length,
                id: shorten(physical_id),
            });
        }
        self.allowed_profile(cluster, owner, progress).await
    }

    async fn allowed_profile(
        &self,
        cluster: &str,
        owner: &Owner,
        progress: &Progress,
    ) -> Result<Profile, Error> {
        progress.step(format!("reading cluster profile {cluster}"));
        let profile = self.profiles.load(cluster).await?;
        profile.allow(owner)?;
        Ok(profile)
    }

    async fn connect(&self, profile: &Profile, progress: &Progress) -> Result<Cluster, Error> {
        progress.step(format!(
            "reading the admin credentials of cluster {}",
            profile.name
        ));
        let (user, password) = self.admin.fetch(&profile.name, &profile.admin).await?;
        let target = cluster::Target {
            admin_user: user,
            ..profile.target.clone()
        };
        progress.step(format!(
            "connecting to {} as {}",
            target.endpoint(),
            target.admin_user
        ));
        Ok(Cluster::connect(&target, &password, progress.deadline()).await?)
    }

    /// Whether the object exists and is this resource's, or was released by an earlier
    /// deployment of the same stack name and logical id; someone else's is an error.
    async fn claimable(
        &self,
        cluster: &Cluster,
        kind: Kind,
        name: &str,
        goal: &Goal<'_>,
    ) -> Result<Found, Error> {
        let (owner, id) = (goal.owner, goal.physical_id.as_str());
        let comment = match kind {
            Kind::Role => cluster.role_comment(name).await?,
            Kind::Database => cluster.database_comment(name).await?,
        };
        let found = match comment {
            None => Ok(Found::Absent),
            // A Create is delivered again with the same id; an Update may replace the
            // generation that uses it. A Create naming this resource's objects under
            // another id is not CloudFormation's.
            Some(Some(comment))
                if cluster::owned_by(&comment, owner)
                    && (!goal.create || cluster::used_by(&comment, owner, id)) =>
            {
                Ok(Found::Ours)
            }
            Some(Some(comment)) if cluster::released_for(&comment, owner, id) => {
                Ok(Found::Released)
            }
            Some(found) => Err(not_ours(
                kind,
                name,
                cluster,
                match found {
                    Some(c) => format!("its comment reads: {}", shorten(&c)),
                    None => "it carries no custom-resource mark".to_owned(),
                },
            )),
        }?;
        // A database's owner may write its comment: the mark counts only while the owner is
        // a role that carries this resource's mark too.
        if let (Kind::Database, Found::Ours | Found::Released) = (kind, found)
            && !self.owned_by_our_role(cluster, name, goal).await?
        {
            let why = "its comment names this resource, but its owner is not this resource's role";
            return Err(not_ours(kind, name, cluster, why.to_owned()));
        }
        Ok(found)
    }

    /// Whether the database's owner is a role this resource marked (any generation's, or
    /// released by the generation the goal comes back to).
    async fn owned_by_our_role(
        &self,
        cluster: &Cluster,
        database: &str,
        goal: &Goal<'_>,
    ) -> Result<bool, Error> {
        let Some(role) = cluster.database_owner(database).await? else {
            return Ok(false);
        };
        let (owner, id) = (goal.owner, goal.physical_id.as_str());
        Ok(cluster
            .role_comment(&role)
            .await?
            .flatten()
            .is_some_and(|c| cluster::owned_by(&c, owner) || cluster::released_for(&c, owner, id)))
    }

    /// Creates what is missing and converges what is this resource's; on failure, takes back
    /// what this request created.
    async fn converge(&self, mut goal: Goal<'_>, progress: &Progress) -> Result<Outcome, Error> {
        let p = goal.properties;
        let policy = self.check(p, goal.rollback)?;
        progress.step(format!("checking KMS key {}", p.kms_key_id()));
        let key = self.parameters.check_key(p.kms_key_id()).await?;
        let cluster = self.connect(&goal.profile, progress).await?;
        progress.step(format!(
            "checking that role {} and database {} are free or this resource's",
            p.role(),
            p.database_name
        ));
        let role = self
            .claimable(&cluster, Kind::Role, p.role(), &goal)
            .await?;
        let database = self
            .claimable(&cluster, Kind::Database, &p.database_name, &goal)
            .await?;
        let parameter_adopted = self
            .parameters
            .adopt_released(&p.password_parameter_name, goal.owner, &key, &self.stacks)
            .await?;
        if !parameter_adopted && (role == Found::Released || database == Found::Released) {
            // Retained objects go only with their password parameter, under its key: the
            // fresh password is then readable only by whoever could read the old one.
            self.ensure_parameter_held(&goal).await?;
        }
        if parameter_adopted || role == Found::Released || database == Found::Released {
            // What an earlier deployment of this stack retained is taken over with a fresh
            // password: whoever held the old one no longer needs it.
            progress.step("adopting what this stack's earlier deployment retained");
            goal.rotate = true;
            // A fresh password, never one restored from the earlier deployment's history.
            goal.old_token = p.rotation_token.clone();
            goal.parameter_adopted = parameter_adopted;
        }
        let before = Before {
            policy,
            key,
            role,
            database,
        };
        let mut undo = Undo::default();
        let result = self
            .apply(&cluster, &goal, &before, &mut undo, progress)
            .await;
        let key = before.key;
        match result {
            Ok(outcome) => Ok(outcome),
            Err(error) => {
                // The work's time may be up: taking back has until the framework's limit.
                cluster.allow_until(progress.undo_deadline());
                self.undo(&cluster, &goal, &key, undo, progress).await;
                Err(error)
            }
        }
    }

    /// Before retained objects are adopted: their password parameter was adopted from the
    /// same release by an earlier delivery of this request, since it was not just now. It
    /// is then this resource's and still tagged with the released generation's id (the
    /// goal's: the same names). One this resource made for another generation is not.
    async fn ensure_parameter_held(&self, goal: &Goal<'_>) -> Result<(), Error> {
        let name = &goal.properties.password_parameter_name;
        let (owner, id) = (goal.owner, goal.physical_id.as_str());
        if self.parameters.used_by(name, owner, id).await? {
            return Ok(());
        }
        Err(Error::AdoptionWithoutParameter {
            parameter: name.clone(),
            database: goal.properties.database_name.clone(),
        })
    }

    /// The names and the password policy; in a rollback, names are the ones in place and a
    /// policy today's rules refuse gives way to the default one.
    fn check(&self, p: &Properties, rollback: bool) -> Result<PasswordPolicy, Error> {
        if !rollback {
            identifiers::database(&p.database_name)?;
            identifiers::role(p.role())?;
            validate_name("PasswordParameterName", &p.password_parameter_name)?;
        }
        match PasswordPolicy::new(&p.password_options()) {
            Err(error) if rollback => {
                tracing::warn!(%error, "rolling back to a policy refused today: the default applies");
                Ok(PasswordPolicy::new(&PasswordOptions::default())?)
            }
            policy => Ok(policy?),
        }
    }

    /// Stores the password, then brings role and database to the goal, then answers.
    async fn apply(
        &self,
        cluster: &Cluster,
        goal: &Goal<'_>,
        before: &Before,
        undo: &mut Undo,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let (password, believed) = self.store_password(goal, before, undo, progress).await?;
        let mark = cluster::mark(goal.owner, &goal.physical_id);
        let role = goal.properties.role();
        if before.role != Found::Absent {
            progress.step(format!("setting the password of role {role}"));
            // Set before the change: an ALTER ROLE applied but not acknowledged is undone too.
            undo.role_password = believed.filter(|b| b.expose() != password.expose());
            cluster.set_password(role, &password).await?;
            if before.role == Found::Ours {
                cluster.comment_role(role, &mark).await?;
            }
        } else {
            progress.step(format!("creating role {role}"));
            // Set before the change: a CREATE ROLE applied but not acknowledged goes too;
            // one that found the role made already (by another delivery) is not ours to drop.
            undo.role = true;
            if let Err(error) = cluster.create_role(role, &password, &mark).await {
                undo.role = !error.already_exists();
                return Err(error.into());
            }
        }
        cluster.grant_to_admin(role).await?;
        self.converge_database(cluster, goal, before.database, &mark, undo, progress)
            .await?;
        let outcome = self.answer(goal, progress).await?;
        self.mark_adopted(cluster, goal, before, &mark, progress)
            .await?;
        Ok(outcome)
    }

    /// What an earlier deployment of this stack retained becomes this generation's last:
    /// until then it stays marked as released, so that the cleanup Delete of a Create that
    /// fails (or is stopped) on the way leaves it, and the next deployment can adopt it.
    async fn mark_adopted(
        &self,
        cluster: &Cluster,
        goal: &Goal<'_>,
        before: &Before,
        mark: &str,
        progress: &Progress,
    ) -> Result<(), Error> {
        let (role, database) = (goal.properties.role(), &goal.properties.database_name);
        if before.role == Found::Released {
            progress.step(format!(
                "marking the adopted role {role} as this resource's"
            ));
            cluster.comment_role(role, mark).await?;
        }
        if before.database == Found::Released {
            progress.step(format!(
                "marking the adopted database {database} as this resource's"
            ));
            cluster.comment_database(database, mark).await?;
        }
        Ok(())
    }

    /// Writes the password the goal calls for (kept, new, or restored by a rollback) into
    /// the parameter. Returns it, and what the role's password is believed to be until now.
    async fn store_password(
        &self,
        goal: &Goal<'_>,
        before: &Before,
        undo: &mut Undo,
        progress: &Progress,
    ) -> Result<(Secret, Option<Secret>), Error> {
        let p = goal.properties;
        let name = &p.password_parameter_name;
        progress.step(format!("storing the password in parameter {name}"));
        let current = self.read_ours(name, goal.owner).await?;
        let previous = match (&current, &goal.previous_parameter) {
            (None, Some(previous)) => self.read_ours(previous, goal.owner).await?,
            _ => None,
        };
        // What the role's password is believed to be: a rotation's undo puts it back.
        let believed = current.clone().or(previous);
        let (token, old_token) = (p.rotation_token.as_deref(), goal.old_token.as_deref());
        let token_changed = goal.rotate && current.is_some() && old_token != token;
        let restored = match &current {
            Some(current) if token_changed => self.relabel(name, current, old_token, token).await?,
            _ => None,
        };
        let password = match (believed.clone(), restored) {
            (_, Some(earlier)) => {
                progress.step(format!(
                    "restoring the password in force under RotationToken {}",
                    token.unwrap_or("(none)")
                ));
                earlier
            }
            (Some(existing), None) if !goal.rotate => existing,
            _ => before.policy.generate()?,
        };
        match current {
            None => {
                undo.parameter = self
                    .parameters
                    .create(name, &password, &before.key, None, goal.owner, goal.record)
                    .await?;
            }
            Some(old) if goal.rotate || goal.rewrite_key => {
                // Set before the write: one applied but not acknowledged is undone too.
                undo.previous_value = Some(old);
                self.parameters
                    .overwrite(name, &password, &before.key, None)
                    .await?;
                if goal.rotate {
                    self.label_fresh(name, token, goal.parameter_adopted)
                        .await?;
                }
            }
            Some(_) => {}
        }
        self.parameters
            .set_physical_id(name, &goal.physical_id, goal.record)
            .await?;
        Ok((password, believed))
    }

    /// Labels the version just written with its token. An adopted parameter first loses
    /// every rotation label of the earlier deployment's versions, so that no later rotation
    /// or rollback restores a password it retired.
    async fn label_fresh(
        &self,
        name: &str,
        token: Option<&str>,
        adopted: bool,
    ) -> Result<(), Error> {
        if adopted {
            self.parameters.restart_rotation_labels(name, token).await?;
        } else {
            self.parameters.label_rotation(name, token).await?;
        }
        Ok(())
    }

    /// Keeps the password in force now findable under its token's label, so that a rollback
    /// (an Update back to that token) restores it instead of making a third; returns the one
    /// in force under the new token before, if any. When that one is the password in force,
    /// the request before (to the old token) failed and its undo put it back: it is not the
    /// old token's, and keeps no label of it.
    async fn relabel(
        &self,
        name: &str,
        current: &Secret,
        old_token: Option<&str>,
        token: Option<&str>,
    ) -> Result<Option<Secret>, Error> {
        let under_new = self.parameters.read_rotation(name, token).await?;
        if under_new
            .as_ref()
            .is_none_or(|found| found.expose() != current.expose())
        {
            self.parameters.label_rotation(name, old_token).await?;
        }
        self.parameters
            .tidy_rotation_labels(name, [old_token, token])
            .await?;
        Ok(under_new)
    }

    /// Creates the database owned by the role, or hands an existing one to it; then marks it
    /// (one adopted is marked last, by `mark_adopted`) and keeps PUBLIC out.
    async fn converge_database(
        &self,
        cluster: &Cluster,
        goal: &Goal<'_>,
        found: Found,
        mark: &str,
        undo: &mut Undo,
        progress: &Progress,
    ) -> Result<(), Error> {
        let (role, database) = (goal.properties.role(), &goal.properties.database_name);
        if found != Found::Absent {
            progress.step(format!("making {role} the owner of database {database}"));
            cluster.set_owner(database, role).await?;
        } else {
            progress.step(format!("creating database {database} owned by {role}"));
            // As for the role: one applied but not acknowledged goes too, one that someone
            // else made meanwhile stays.
            undo.database = true;
            if let Err(error) = cluster.create_database(database, role).await {
                undo.database = !error.already_exists();
                return Err(error.into());
            }
        }
        if found != Found::Released {
            cluster.comment_database(database, mark).await?;
        }
        progress.step(format!(
            "revoking CONNECT and TEMPORARY on {database} from PUBLIC"
        ));
        cluster.restrict(database).await?;
        Ok(())
    }

    /// The attributes, with the parameter's ARN as SSM gives it.
    async fn answer(&self, goal: &Goal<'_>, progress: &Progress) -> Result<Outcome, Error> {
        let p = goal.properties;
        let name = &p.password_parameter_name;
        progress.step(format!("reading parameter {name}"));
        if crate::failpoint::hit("reading parameter") {
            return Err(Error::Vanished(crate::failpoint::message(name)));
        }
        let stored = self
            .parameters
            .read(name)
            .await?
            .ok_or_else(|| Error::Vanished(name.clone()))?;
        Ok(Outcome::new(&goal.physical_id)
            .with("DatabaseName", &p.database_name)
            .with("RoleName", p.role())
            .with("PasswordParameterName", name)
            .with("PasswordParameterArn", stored.arn)
            .with("Endpoint", goal.profile.target.endpoint()))
    }

    /// The parameter's value if it exists and is this resource's; someone else's is an error.
    async fn read_ours(&self, name: &str, owner: &Owner) -> Result<Option<Secret>, Error> {
        if !self.parameters.ensure_ours(name, owner).await? {
            return Ok(None);
        }
        Ok(self.parameters.read(name).await?.map(|s| s.value))
    }

    /// For a Delete: the cluster connection and the database and role names, or `None` when
    /// the properties name nothing this resource could have created.
    async fn cluster_for_delete(
        &self,
        request: &Delete<Properties>,
        progress: &Progress,
    ) -> Result<Option<(Cluster, String, String)>, Error> {
        let Some((cluster_name, database, role)) = properties::names(&request.properties) else {
            tracing::warn!("the properties no longer say where the database is; nothing done");
            return Ok(None);
        };
        if identifiers::database(&database).is_err()
            || identifiers::role(&role).is_err()
            || self.profiles.check_name(&cluster_name).is_err()
        {
            // Names this resource could never have created.
            return Ok(None);
        }
        let profile = self.profiles.load(&cluster_name).await?;
        if let Err(refused) = profile.allow(&request.owner) {
            // Its Create was refused the same way, so nothing of it is there.
            tracing::warn!(reason = %refused, "nothing done");
            return Ok(None);
        }
        let cluster = self.connect(&profile, progress).await?;
        // A Delete has nothing to take back: it may use all of the work's time.
        cluster.allow_until(progress.undo_deadline());
        Ok(Some((cluster, database, role)))
    }

    /// A Delete that retains: marks what this generation uses as released by this stack
    /// name and logical id, so that a later deployment of the same stack can adopt it and
    /// nobody else can.
    async fn release(
        &self,
        request: &Delete<Properties>,
        progress: &Progress,
    ) -> Result<(), Error> {
        self.release_parameter(request).await?;
        let Some((cluster, database, role)) = self.cluster_for_delete(request, progress).await?
        else {
            return Ok(());
        };
        self.release_objects(request, &cluster, &database, &role, progress)
            .await
    }

    /// Marks the parameter released under the key that encrypts it (README, Retained
    /// objects).
    async fn release_parameter(&self, request: &Delete<Properties>) -> Result<(), Error> {
        let Some(name) = parameter_name(&request.properties) else {
            return Ok(());
        };
        let key_id = request.properties.text("KmsKeyId");
        let (owner, id) = (&request.owner, &request.physical_resource_id);
        self.parameters
            .release(&name, owner, Some(id), key_id.as_deref(), &self.stacks)
            .await?;
        Ok(())
    }

    /// Marks the role and database as released, where this generation uses them.
    async fn release_objects(
        &self,
        request: &Delete<Properties>,
        cluster: &Cluster,
        database: &str,
        role: &str,
        progress: &Progress,
    ) -> Result<(), Error> {
        let (owner, id) = (&request.owner, &request.physical_resource_id);
        let released = cluster::released_mark(owner, id);
        let uses = |comment| cluster::comment_used_by(comment, owner, id);
        if uses(cluster.database_comment(database).await?) {
            progress.step(format!("marking database {database} as released"));
            cluster.comment_database(database, &released).await?;
        }
        if uses(cluster.role_comment(role).await?) {
            progress.step(format!("marking role {role} as released"));
            cluster.comment_role(role, &released).await?;
        }
        Ok(())
    }

    /// Drops the role only if it carries this request's mark: a CREATE ROLE that failed
    /// because someone else's role appeared meanwhile leaves theirs alone.
    async fn drop_role_if_marked(&self, cluster: &Cluster, goal: &Goal<'_>) -> Result<(), Error> {
        let role = goal.properties.role();
        let comment = cluster.role_comment(role).await?;
        if cluster::comment_used_by(comment, goal.owner, &goal.physical_id) {
            cluster.drop_role(role).await?;
        }
        Ok(())
    }

    /// Drops the database only if this request made it: it carries this generation's mark,
    /// or none yet and this resource's role owns it (a CREATE DATABASE applied but not
    /// acknowledged). One another stack created meanwhile under the name stands.
    async fn drop_database_if_made(&self, cluster: &Cluster, goal: &Goal<'_>) -> Result<(), Error> {
        let (database, role) = (&goal.properties.database_name, goal.properties.role());
        let (owner, id) = (goal.owner, goal.physical_id.as_str());
        let made = match cluster.database_comment(database).await? {
            None => return Ok(()),
            Some(Some(comment)) => cluster::used_by(&comment, owner, id),
            Some(None) => {
                cluster.database_owner(database).await?.as_deref() == Some(role)
                    && cluster::comment_used_by(cluster.role_comment(role).await?, owner, id)
            }
        };
        if made {
            cluster.drop_database(database).await?;
        } else {
            tracing::warn!(database = %database, "not made by this request: left standing");
        }
        Ok(())
    }

    async fn undo(
        &self,
        cluster: &Cluster,
        goal: &Goal<'_>,
        key: &Key,
        undo: Undo,
        progress: &Progress,
    ) {
        let p = goal.properties;
        progress.step("taking back what this request created");
        // What keeps the service working goes first: the parameter and the role's password
        // (quick), then the drops, which may wait on locks; the database gets half of the
        // time left, so the role's drop still has some.
        let name = &p.password_parameter_name;
        let mut results: Vec<Result<(), Error>> = Vec::new();
        if undo.parameter {
            let deleted = self.parameters.delete_if_ours(name, goal.owner).await;
            results.push(deleted.map(drop).map_err(Error::from));
        }
        if let Some(old) = &undo.previous_value {
            let restored = self.parameters.overwrite(name, old, key, None).await;
            results.push(restored.map_err(Error::from));
        }
        if let Some(old) = &undo.role_password {
            results.push(
                cluster
                    .set_password(p.role(), old)
                    .await
                    .map_err(Error::from),
            );
        }
        if undo.database {
            let now = tokio::time::Instant::now();
            let end = progress.undo_deadline();
            cluster.allow_until(now + end.saturating_duration_since(now) / 2);
            results.push(self.drop_database_if_made(cluster, goal).await);
            cluster.allow_until(end);
        }
        if undo.role {
            results.push(self.drop_role_if_marked(cluster, goal).await);
        }
        for error in results.into_iter().filter_map(Result::err) {
            tracing::error!(error = %error, "could not take back a change");
        }
    }
}

impl CustomResource for ServiceDatabase {
    type Properties = Properties;
    type Error = Error;
    // A Create stopped at the deadline cannot take its work back: its Delete does.
    const CLEANS_UP_FAILED_CREATES: bool = true;

    async fn create(
        &self,
        request: Create<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let properties = &request.properties;
        let goal = Goal {
            profile: self
                .profile(
                    &properties.physical_id(),
                    &properties.cluster,
                    &request.owner,
                    progress,
                )
                .await?,
            properties,
            owner: &request.owner,
            physical_id: properties.physical_id(),
            rotate: false,
            old_token: None,
            rewrite_key: false,
            previous_parameter: None,
            record: &request.record,
            rollback: false,
            parameter_adopted: false,
            create: true,
        };
        self.converge(goal, progress).await
    }

    async fn update(
        &self,
        request: Update<Properties>,
        progress: &Progress,
    ) -> Result<Outcome, Error> {
        let (new, old) = (&request.properties, &request.old_properties);
        let physical_id = new.physical_id();
        // A new Cluster, DatabaseName, RoleName or PasswordParameterName is a new physical
        // id: a replacement.
        // CloudFormation then deletes the old one according to its OnDelete.
        let replacing = physical_id != request.physical_resource_id;
        if replacing {
            progress.step(format!(
                "replacing {} with {physical_id}",
                request.physical_resource_id
            ));
        }
        let goal = Goal {
            profile: self
                .profile(&new.physical_id(), &new.cluster, &request.owner, progress)
                .await?,
            properties: new,
            owner: &request.owner,
            physical_id,
            // Read as given: old properties that no longer parse as a whole still say these.
            rotate: old.text("RotationToken") != new.rotation_token,
            old_token: old.text("RotationToken"),
            rewrite_key: old.text("KmsKeyId").as_deref().unwrap_or(DEFAULT_KMS_KEY)
                != new.kms_key_id(),
            // Its password carries over; the parameter itself goes in CloudFormation's
            // cleanup Delete of the old physical id, once nothing reads it any more.
            previous_parameter: old
                .text("PasswordParameterName")
                .filter(|previous| *previous != new.password_parameter_name),
            record: &request.record,
            // Names that are new are checked whatever: leniency is for what is in place.
            rollback: request.rollback && !replacing,
            parameter_adopted: false,
            create: false,
        };
        self.converge(goal, progress).await
    }

    /// The record is kept with the parameter, for the generation that uses it now.
    async fn recorded_properties(
        &self,
        request: &Update<(), Properties>,
    ) -> Result<Option<String>, Error> {
        let id = &request.physical_resource_id;
        // No check of the name: one refused today must still find its record.
        let Some((_, name)) = id.rsplit_once('#') else {
            return Ok(None);
        };
        Ok(self
            .parameters
            .record(name, &request.owner, Some(id))
            .await?)
    }

    async fn delete(&self, request: Delete<Properties>, progress: &Progress) -> Result<(), Error> {
        if !request
            .physical_resource_id
            .starts_with(FAILED_CREATE_PREFIX)
        {
            return self.delete_generation(request, progress).await;
        }
        // A Create that could not take back its work (stopped at the deadline, say): what it
        // made carries the id it meant to answer, so the Delete goes by that one. Best effort:
        // a Create that failed for a missing profile or a bad name must stay deletable.
        let Some(intended) = properties::physical_id(&request.properties) else {
            return Ok(());
        };
        progress.step(format!("cleaning up after the failed Create of {intended}"));
        let request = Delete {
            physical_resource_id: intended,
            ..request
        };
        if let Err(error) = self.delete_generation(request, progress).await {
            tracing::warn!(error = %error, "could not clean up after the failed Create; left in place");
        }
        Ok(())
    }
}

impl ServiceDatabase {
    /// Deletes (or, with Retain, releases) what the generation `physical_resource_id` uses.
    async fn delete_generation(
        &self,
        request: Delete<Properties>,
        progress: &Progress,
    ) -> Result<(), Error> {
        if on_delete(&request.properties) == OnDelete::Retain {
            progress.step("retaining the database, role and parameter (OnDelete: Retain)");
            if let Err(error) = self.release(&request, progress).await {
                tracing::warn!(error = %error, "kept, but not marked as released: a new deployment of this stack cannot adopt them");
            }
            return Ok(());
        }
        let (owner, id) = (&request.owner, &request.physical_resource_id);
        let Some((cluster, database, role)) = self.cluster_for_delete(&request, progress).await?
        else {
            return Ok(());
        };
        let (database, role) = (database.as_str(), role.as_str());
        let (database_comment, role_comment) = (
            cluster.database_comment(database).await?,
            cluster.role_comment(role).await?,
        );
        let released = |c: &Option<Option<String>>| matches!(c, Some(Some(c)) if cluster::released_for(c, owner, id));
        if released(&database_comment) || released(&role_comment) {
            // A Create that failed while adopting what this stack retained: all of it goes
            // back, with whatever that Create made for it (a new role may own it now).
            progress.step("a failed adoption: releasing again what it took over");
            self.release_parameter(&request).await?;
            return self
                .release_objects(&request, &cluster, database, role, progress)
                .await;
        }
        let uses = |comment| cluster::comment_used_by(comment, owner, id);
        if uses(database_comment) {
            progress.step(format!("dropping database {database}"));
            cluster.drop_database(database).await?;
        } else {
            tracing::info!(database, "not this resource's, or gone: left in place");
        }
        if uses(role_comment) {
            progress.step(format!(
                "dropping what role {role} owns or was granted, then the role"
            ));
            cluster.drop_owned(role).await?;
            cluster.drop_role(role).await?;
        } else {
            tracing::info!(role, "not this resource's, or gone: left in place");
        }
        if let Some(name) = parameter_name(&request.properties) {
            progress.step(format!(
                "deleting parameter {name} if this resource uses it"
            ));
            self.parameters.delete_if_used_by(&name, owner, id).await?;
        }
        Ok(())
    }
}

/// The parameter a Delete's properties name, if it could be one of ours.
fn parameter_name(properties: &Lenient<Properties>) -> Option<String> {
    properties
        .text("PasswordParameterName")
        .filter(|name| validate_name("PasswordParameterName", name).is_ok())
}

/// A role or database that exists and is not this resource's.
fn not_ours(kind: Kind, name: &str, cluster: &Cluster, found: String) -> Error {
    Error::NotOurs {
        kind: match kind {
            Kind::Role => "role",
            Kind::Database => "database",
        },
        name: name.to_owned(),
        endpoint: cluster.endpoint().to_owned(),
        found,
        property: match kind {
            Kind::Role => "RoleName",
            Kind::Database => "DatabaseName",
        },
    }
}
