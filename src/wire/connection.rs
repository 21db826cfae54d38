//! Base, source and target connections as the Flow Service lists them, typed, and the flow
//! spec a list of `/flowSpecs` returns. A connection's `auth.params` and a target connection's
//! `params` stay JSON objects: they are small, managed as wholes, and `replace`d with every
//! unmanaged key carried over. `id` and `etag` are required.

use super::flow::{MissingField, SpecRef, required};
use super::json::loose;
use super::{EntityId, Etag};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A listed base, source or target connection.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "ConnectionFields")]
pub struct Connection {
    /// Its id.
    pub id: EntityId,
    /// Its etag.
    pub etag: Etag,
    /// `name` (when a string).
    pub name: Option<String>,
    /// `description` (when a string), which ends with the ownership marker.
    pub description: Option<String>,
    /// `connectionSpec`.
    pub connection_spec: Option<SpecRef>,
    /// `auth` (base connections).
    pub auth: Option<Auth>,
    /// `params` (source and target connections), when an object.
    pub params: Option<Map<String, Value>>,
    /// `baseConnectionId` (source and target connections).
    pub base_connection_id: Option<String>,
    /// `createdAt`, epoch milliseconds.
    pub created_at: Option<i64>,
    /// `updatedAt`, epoch milliseconds.
    pub updated_at: Option<i64>,
    /// `updatedBy`: who last changed it.
    pub updated_by: Option<String>,
    /// `updatedClient`: the API client that last changed it.
    pub updated_client: Option<String>,
}

/// A base connection's `auth`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auth {
    /// `specName`: the auth method.
    #[serde(default, deserialize_with = "loose")]
    pub spec_name: Option<String>,
    /// `params`, when an object (secrets come back masked).
    #[serde(default, deserialize_with = "loose")]
    pub params: Option<Map<String, Value>>,
}

impl super::json::Shaped for Auth {
    const SHAPE: super::json::Shape = super::json::Shape::Object;
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionFields {
    #[serde(default, deserialize_with = "loose")]
    id: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    etag: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    name: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    description: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    connection_spec: Option<SpecRef>,
    #[serde(default, deserialize_with = "loose")]
    auth: Option<Auth>,
    #[serde(default, deserialize_with = "loose")]
    params: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "loose")]
    base_connection_id: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    created_at: Option<i64>,
    #[serde(default, deserialize_with = "loose")]
    updated_at: Option<i64>,
    #[serde(default, deserialize_with = "loose")]
    updated_by: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    updated_client: Option<String>,
}

impl TryFrom<ConnectionFields> for Connection {
    type Error = MissingField;
    fn try_from(c: ConnectionFields) -> Result<Connection, MissingField> {
        let (id, etag) = required("connection", c.id, c.etag)?;
        Ok(Connection {
            id,
            etag,
            name: c.name,
            description: c.description,
            connection_spec: c.connection_spec,
            auth: c.auth,
            params: c.params,
            base_connection_id: c.base_connection_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            updated_by: c.updated_by,
            updated_client: c.updated_client,
        })
    }
}

impl Connection {
    /// Parses one connection from a JSON value (re-read as text: for single GETs and tests).
    pub fn from_value(v: &Value) -> Result<Connection, serde_json::Error> {
        serde_json::from_str(&v.to_string())
    }

    /// `connectionSpec.id`.
    pub fn spec_id(&self) -> Option<&str> {
        self.connection_spec.as_ref()?.id.as_deref()
    }
}

/// A listed flow spec (`GET /flowSpecs`): only its id and name are read.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FlowSpec {
    /// Its id.
    #[serde(default, deserialize_with = "loose")]
    pub id: Option<String>,
    /// Its name (`upsToCampaign`, …).
    #[serde(default, deserialize_with = "loose")]
    pub name: Option<String>,
}
