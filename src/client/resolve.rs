//! Writes whose outcome is unknown, resolved in the same run.
//!
//! A create answered 500/502/504, timed out or cut mid-response may have happened. Before it is
//! sent again, the collection is listed (`property=name==…`) and searched for an object with the
//! same name, the same ownership marker (`[destctl:NAME…]` at the end of the description) and,
//! when the body names one, the same connection spec: when one is there it is adopted, so a
//! create never makes a duplicate. A flow action is checked against the flow's `state`; a
//! `PATCH` answered 412 after an unanswered attempt is checked against the entity (the patch is
//! there when every operation's value already is).

use super::error::api_error;
use super::{Client, ClientError, FlowAction, WriteResult};
use crate::marker::Marker;
use crate::wire::{EntityId, Etag, PatchOp, PatchOpKind, Resource};
use reqwest::{Method, Url};
use serde_json::Value;

/// What identifies a created object: its name, its marker and its connection spec.
#[derive(Debug, PartialEq, Eq)]
struct CreatedKey {
    name: String,
    marker: Marker,
    spec: Option<String>,
}

impl CreatedKey {
    /// The key of a create body; `None` without a name or a marker (nothing to look for).
    fn of(body: &Value) -> Option<CreatedKey> {
        let name = body.get("name")?.as_str()?.to_owned();
        let (marker, _) = Marker::parse(body.get("description")?.as_str()?)?;
        Some(CreatedKey {
            name,
            marker,
            spec: spec_id(body),
        })
    }

    /// Whether `item` (a listed object) is the object this key describes.
    fn matches(&self, item: &Value) -> bool {
        let name = item.get("name").and_then(Value::as_str);
        let marker = item
            .get("description")
            .and_then(Value::as_str)
            .and_then(Marker::parse)
            .map(|(m, _)| m);
        name == Some(self.name.as_str())
            && marker.as_ref() == Some(&self.marker)
            && (self.spec.is_none() || spec_id(item) == self.spec)
    }
}

fn spec_id(v: &Value) -> Option<String> {
    v.get("connectionSpec")
        .or_else(|| v.get("flowSpec"))
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Whether a failed write may have been carried out by the service.
fn may_have_happened(e: &ClientError) -> bool {
    match e {
        ClientError::Transport { .. } => true,
        ClientError::Api(api) => api.status == 429 || api.status >= 500,
        _ => false,
    }
}

/// The failure in a few words, for a retry notice (method and path are shown apart).
fn short_reason(e: &ClientError) -> String {
    match e {
        ClientError::Transport { message, .. } => message.clone(),
        e => match e.status() {
            Some(status) => format!("HTTP {status}"),
            None => e.to_string(),
        },
    }
}

/// Whether the entity already holds every operation of `ops`.
fn holds(entity: &Value, ops: &[PatchOp]) -> bool {
    ops.iter().all(|op| match op.op {
        PatchOpKind::Remove => entity.pointer(&op.path).is_none(),
        _ if op.path.ends_with("/-") => false,
        _ => entity.pointer(&op.path) == op.value.as_ref(),
    })
}

impl Client {
    /// Waits before sending a write again; `Ok(false)` when out of time (the caller then
    /// reports `err`), an error when the run is stopped.
    async fn before_resending(
        &self,
        path: &str,
        round: u32,
        err: &ClientError,
    ) -> Result<bool, ClientError> {
        let retrier = &self.inner.retrier;
        let wait = retrier.backoff(round);
        let hooks = &retrier.hooks;
        if hooks.stopped() {
            return Err(ClientError::Interrupted {
                method: Method::POST,
                path: path.to_owned(),
                what: super::error::NOT_SENT,
            });
        }
        if hooks.remaining().is_some_and(|left| wait >= left) {
            return Ok(false);
        }
        if let Some(observer) = hooks.observer.get() {
            observer.retrying(&super::RetryNotice {
                method: Method::POST,
                path: path.to_owned(),
                attempt: round + 1,
                max_attempts: retrier.max_attempts(),
                reason: format!("{}; not there yet", short_reason(err)),
                delay: wait,
            });
        }
        tokio::time::sleep(wait).await;
        Ok(true)
    }

    fn tell_resolving(&self, method: &Method, path: &str, what: &str) {
        tracing::debug!(method = %method, path = %path, what, "answer lost; checking");
        if let Some(observer) = self.inner.retrier.hooks.observer.get() {
            observer.resolving(method, path, what);
        }
    }

    /// `POST {collection}`, never duplicating: after a failure that may hide a create, the
    /// object is looked for by its marker and adopted when found, else the create is sent
    /// again (as often as the retry policy allows).
    pub async fn create(
        &self,
        resource: Resource,
        body: &Value,
    ) -> Result<WriteResult, ClientError> {
        let key = CreatedKey::of(body);
        let path = self.url(resource.collection())?.path().to_owned();
        let mut round = 1;
        loop {
            let err = match self.create_once(resource, body).await {
                Ok(w) => return Ok(w),
                Err(e) => e,
            };
            let Some(key) = key.as_ref().filter(|_| may_have_happened(&err)) else {
                return Err(err);
            };
            if round >= self.inner.retrier.max_attempts() {
                return Err(err);
            }
            self.tell_resolving(
                &Method::POST,
                &path,
                &format!("looking for {} by its marker {}", key.name, key.marker),
            );
            if let Some(found) = self.find_created(resource, key).await? {
                return Ok(found);
            }
            if !self.before_resending(&path, round, &err).await? {
                return Err(err);
            }
            round += 1;
        }
    }

    /// The object `key` describes, when the service holds one.
    async fn find_created(
        &self,
        resource: Resource,
        key: &CreatedKey,
    ) -> Result<Option<WriteResult>, ClientError> {
        // A comma separates alternatives in a filter value: such a name is matched here only.
        let query: Vec<(&str, String)> = if key.name.contains(',') {
            Vec::new()
        } else {
            vec![("property", format!("name=={}", key.name))]
        };
        let items = self.list(resource.collection(), &query).await?;
        let Some(item) = items.iter().find(|i| key.matches(i)) else {
            return Ok(None);
        };
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let id = EntityId(id.to_owned());
        let etag = match item.get("etag").and_then(Value::as_str) {
            Some(e) => Etag(e.to_owned()),
            None => {
                let entity = self.get(resource, &id).await?;
                match entity.get("etag").and_then(Value::as_str) {
                    Some(e) => Etag(e.to_owned()),
                    None => return Ok(None),
                }
            }
        };
        tracing::debug!(id = %id.0, "adopting the object created by an unanswered request");
        Ok(Some(WriteResult { id, etag }))
    }

    /// `POST /flows/{id}/action?op=…`; after a failure that may hide the action, the flow's
    /// state says whether it happened before the action is sent again.
    pub async fn flow_action(
        &self,
        id: &EntityId,
        action: FlowAction,
    ) -> Result<WriteResult, ClientError> {
        let path = self
            .entity_url(Resource::Flow, id, &["action"])
            .path()
            .to_owned();
        let wanted = match action {
            FlowAction::Enable => "enabled",
            FlowAction::Disable => "disabled",
        };
        let mut round = 1;
        loop {
            let err = match self.flow_action_once(id, action).await {
                Ok(w) => return Ok(w),
                Err(e) if may_have_happened(&e) => e,
                Err(e) => return Err(e),
            };
            if round >= self.inner.retrier.max_attempts() {
                return Err(err);
            }
            self.tell_resolving(
                &Method::POST,
                &path,
                &format!("checking whether the flow is {wanted}"),
            );
            let flow = self.get(Resource::Flow, id).await?;
            if flow.get("state").and_then(Value::as_str) == Some(wanted)
                && let Some(etag) = flow.get("etag").and_then(Value::as_str)
            {
                return Ok(WriteResult {
                    id: id.clone(),
                    etag: Etag(etag.to_owned()),
                });
            }
            if !self.before_resending(&path, round, &err).await? {
                return Err(err);
            }
            round += 1;
        }
    }

    /// A 412 answered after an attempt whose answer was lost: the entity's etag if it already
    /// holds `ops`, else the 412.
    pub(super) async fn patch_after_lost_answer(
        &self,
        resource: Resource,
        id: &EntityId,
        ops: &[PatchOp],
        url: &Url,
        body: &[u8],
    ) -> Result<WriteResult, ClientError> {
        self.tell_resolving(
            &Method::PATCH,
            url.path(),
            "412 after a lost answer: checking whether the change is there",
        );
        let entity = self.get(resource, id).await?;
        if let Some(etag) = entity.get("etag").and_then(Value::as_str)
            && holds(&entity, ops)
        {
            return Ok(WriteResult {
                id: id.clone(),
                etag: Etag(etag.to_owned()),
            });
        }
        Err(ClientError::from_api(api_error(
            Method::PATCH,
            url.path().to_owned(),
            412,
            body,
            2,
            self.redactor(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_created_object_is_known_by_name_marker_and_spec() {
        let body = json!({"name": "S3 out", "description": "Export [destctl:s3-out credentials=2]",
            "connectionSpec": {"id": "spec-1", "version": "1.0"}});
        let key = CreatedKey::of(&body).expect("a key");
        assert!(key.matches(&json!({"id": "c1", "name": "S3 out",
            "description": "Export [destctl:s3-out credentials=2]", "connectionSpec": {"id": "spec-1"}})));
        // Another spec (the profile connection of the same Destination), another credentials
        // version, another name, or no marker: not it.
        for other in [
            json!({"name": "S3 out", "description": "[destctl:s3-out credentials=2]", "connectionSpec": {"id": "spec-2"}}),
            json!({"name": "S3 out", "description": "[destctl:s3-out credentials=1]", "connectionSpec": {"id": "spec-1"}}),
            json!({"name": "S3 in", "description": "[destctl:s3-out credentials=2]", "connectionSpec": {"id": "spec-1"}}),
            json!({"name": "S3 out", "description": "Export", "connectionSpec": {"id": "spec-1"}}),
        ] {
            assert!(!key.matches(&other), "{other}");
        }
        assert_eq!(
            CreatedKey::of(&json!({"name": "x", "description": "no marker"})),
            None
        );
    }

    #[test]
    fn only_failures_that_may_hide_a_write_are_resolved() {
        let api = |status| {
            ClientError::from_api(api_error(
                Method::POST,
                "/flows".into(),
                status,
                b"{}",
                1,
                &crate::client::Redactor::new(),
            ))
        };
        assert!(may_have_happened(&api(500)) && may_have_happened(&api(504)));
        assert!(may_have_happened(&api(429)));
        assert!(!may_have_happened(&api(400)) && !may_have_happened(&api(409)));
        assert!(!may_have_happened(&ClientError::Interrupted {
            method: Method::POST,
            path: "/flows".into(),
            what: "not sent",
        }));
    }

    #[test]
    fn a_patch_is_held_when_every_value_is_there() {
        let op = |kind, path: &str, value: Option<Value>| PatchOp {
            op: kind,
            path: path.into(),
            value,
        };
        let entity = json!({"name": "a", "params": {"x": 1}});
        assert!(holds(
            &entity,
            &[op(PatchOpKind::Replace, "/name", Some(json!("a")))]
        ));
        assert!(holds(
            &entity,
            &[op(PatchOpKind::Remove, "/params/y", None)]
        ));
        assert!(!holds(
            &entity,
            &[op(PatchOpKind::Replace, "/params/x", Some(json!(2)))]
        ));
        assert!(!holds(
            &entity,
            &[op(PatchOpKind::Add, "/list/-", Some(json!(1)))]
        ));
    }
}
