//! The Flow Service client over HTTP and TLS.

mod http;
mod redaction;
mod tls;
mod transport;
