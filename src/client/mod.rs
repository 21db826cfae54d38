//! The Flow Service HTTP client: IMS tokens, the required headers, retries with backoff, typed
//! errors. Secrets and tokens never reach logs.
//!
//! CONTRACT SURFACE: the signatures below are what `live` and `apply` use; the bodies are filled
//! in by the client work.

use crate::plan::{EntityId, Etag, PatchOp, Resource};
use serde_json::Value;
use std::time::Duration;

/// How the client authenticates.
#[derive(Clone)]
pub enum Auth {
    /// A ready token (`AEP_ACCESS_TOKEN`).
    Token {
        /// The bearer token.
        access_token: String,
        /// `x-api-key` (`AEP_CLIENT_ID`).
        client_id: String,
        /// `x-gw-ims-org-id` (`AEP_ORG_ID`).
        org_id: String,
    },
    /// OAuth server-to-server through the IMS token endpoint, cached and refreshed before expiry.
    ClientCredentials {
        /// IMS base URL (token endpoint is `{ims_url}/ims/token/v3`).
        ims_url: String,
        /// `AEP_CLIENT_ID`, also sent as `x-api-key`.
        client_id: String,
        /// `AEP_CLIENT_SECRET`.
        client_secret: String,
        /// `AEP_ORG_ID`.
        org_id: String,
        /// `AEP_SCOPES`, comma-separated.
        scopes: String,
    },
}

/// Retry policy for 429, 500, 502, 503, 504 and connection errors.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    /// First backoff; doubles each retry, with jitter.
    pub base_delay: Duration,
    /// Upper bound of one wait (also caps `Retry-After`).
    pub max_delay: Duration,
}

/// Everything needed to talk to one sandbox.
#[derive(Clone)]
pub struct ClientConfig {
    /// Platform base URL, e.g. `https://platform.adobe.io` or `http://127.0.0.1:PORT`; the Flow
    /// Service lives under `/data/foundation/flowservice`.
    pub endpoint: String,
    /// `x-sandbox-name`.
    pub sandbox: String,
    /// Credentials.
    pub auth: Auth,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

/// The result of a successful write: `{id, etag}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// Entity id.
    pub id: EntityId,
    /// Its new etag.
    pub etag: Etag,
}

/// A flow action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowAction {
    /// `op=enable`.
    Enable,
    /// `op=disable`.
    Disable,
}

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Placeholder until the client lands.
    #[error("not implemented")]
    Unimplemented,
}

/// A Flow Service client for one sandbox; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Client {
    _config: std::sync::Arc<ClientConfig>,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        Ok(Client {
            _config: std::sync::Arc::new(config),
        })
    }

    /// All items of a list endpoint (`/flows`, `/connections`, `/flowSpecs`, …), following
    /// `_links.next` until the last page; `query` holds `property` filters and the like
    /// (`limit=100` is added).
    pub async fn list(
        &self,
        _path: &str,
        _query: &[(&str, String)],
    ) -> Result<Vec<Value>, ClientError> {
        Err(ClientError::Unimplemented)
    }

    /// `GET {collection}/{id}`, unwrapped from `{"items":[…]}`.
    pub async fn get(&self, _resource: Resource, _id: &EntityId) -> Result<Value, ClientError> {
        Err(ClientError::Unimplemented)
    }

    /// `POST {collection}`.
    pub async fn create(
        &self,
        _resource: Resource,
        _body: &Value,
    ) -> Result<WriteResult, ClientError> {
        Err(ClientError::Unimplemented)
    }

    /// `PATCH {collection}/{id}` with `If-Match: etag`.
    pub async fn patch(
        &self,
        _resource: Resource,
        _id: &EntityId,
        _etag: &Etag,
        _ops: &[PatchOp],
    ) -> Result<WriteResult, ClientError> {
        Err(ClientError::Unimplemented)
    }

    /// `DELETE {collection}/{id}`.
    pub async fn delete(&self, _resource: Resource, _id: &EntityId) -> Result<(), ClientError> {
        Err(ClientError::Unimplemented)
    }

    /// `POST /flows/{id}/action?op=…`.
    pub async fn flow_action(
        &self,
        _id: &EntityId,
        _action: FlowAction,
    ) -> Result<WriteResult, ClientError> {
        Err(ClientError::Unimplemented)
    }
}
