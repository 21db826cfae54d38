//! The fingerprint never covers a secret: the account group holds the auth method and the
//! non-secret params only, so no secret value, reference or hash can reach a marker.

use crate::support::plan::sftp;
use destctl::marker::FpField;
use destctl::model::{ParamValue, SecretRef};
use destctl::plan::fingerprint::{desired_account, single};

#[test]
fn the_account_group_holds_no_secret() {
    let base = sftp();
    let account = desired_account(&base);
    assert_eq!(
        account,
        serde_json::json!({"auth": "Basic Authentication for sftp",
            "params": {"domain": null, "host": "sftp.acme.test", "port": null, "username": "exports"}})
    );
    let fp = |d: &destctl::model::DesiredDestination| single(FpField::Account, &desired_account(d));
    // Another secret reference, or the secret written as a literal: the same fingerprint.
    let mut other = sftp();
    other.connection.params.insert(
        "password".into(),
        ParamValue::Secret(SecretRef::File("elsewhere".into())),
    );
    assert_eq!(fp(&other), fp(&base));
    let mut literal = sftp();
    literal
        .connection
        .params
        .insert("password".into(), ParamValue::Literal("hunter2".into()));
    assert_eq!(fp(&literal), fp(&base));
    assert!(!desired_account(&literal).to_string().contains("hunter2"));
    // A non-secret param is covered.
    let mut host = sftp();
    host.connection
        .params
        .insert("host".into(), ParamValue::Literal("other.acme.test".into()));
    assert_ne!(fp(&host), fp(&base));
}
