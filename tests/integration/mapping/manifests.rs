//! `validate` of exported columns: each rule names the file, line and field.

use crate::support::{tempdir, write};

fn errors(spec_tail: &str, platform: &str, location: &str) -> String {
    let dir = tempdir();
    let text = format!(
        "apiVersion: destctl/v1
kind: Destination
metadata: {{name: cols}}
spec:
  platform: {platform}
  connection:
    auth: Access Key
    params: {{s3AccessKey: \"${{env:A}}\", s3SecretKey: \"${{env:B}}\"}}
  location: {location}
{spec_tail}"
    );
    let path = write(dir.path(), "cols.yaml", &text);
    match destctl::manifest::load(&[path]) {
        Ok(_) => String::new(),
        Err(e) => e.render(false),
    }
}

const CURRENT: &str = "{bucketName: acme-bucket, path: p}";

#[test]
fn column_rules_are_located() {
    let ok = errors(
        "  attributes: [a.b, {path: c.d, column: c}]\n  identities: [{namespace: Email, column: e}]",
        "amazon-s3",
        CURRENT,
    );
    assert_eq!(ok, "", "a valid manifest");
    let e = errors(
        "  attributes: [{path: a.b, column: x.y}]",
        "amazon-s3",
        CURRENT,
    );
    assert!(e.contains("cols.yaml:10"), "{e}");
    assert!(e.contains("spec.attributes[0].column"), "{e}");
    assert!(e.contains("`x.y` is not a column name"), "{e}");

    let e = errors(
        "  attributes: [a.b, {path: c.d, column: a_b}]",
        "amazon-s3",
        CURRENT,
    );
    assert!(e.contains("spec.attributes[1].column"), "{e}");
    assert!(e.contains("column `a_b` is exported twice"), "{e}");

    let e = errors(
        "  attributes: [a.b]\n  identities: [{namespace: Email}, {namespace: ECID}]",
        "amazon-s3",
        CURRENT,
    );
    assert!(e.contains("spec.identities[1]"), "{e}");
    assert!(e.contains("at most one identity"), "{e}");

    let e = errors(
        "  attributes: [{path: a.b, column: x}]\n  identities: [{namespace: Email}]",
        "amazon-s3-legacy",
        "{mode: S3, bucketName: acme-bucket, path: p}",
    );
    assert!(e.contains("spec.attributes[0].column"), "{e}");
    assert!(e.contains("spec.identities[0]"), "{e}");
    assert!(e.contains("need a current card"), "{e}");

    let e = errors(
        "  attributes: [{path: a.b, column: x, extra: 1}]",
        "amazon-s3",
        CURRENT,
    );
    assert!(e.contains("unknown field `extra`"), "{e}");
}

#[test]
fn columns_reach_the_desired_model() {
    let dir = tempdir();
    let path = write(
        dir.path(),
        "cols.yaml",
        "apiVersion: destctl/v1
kind: Destination
metadata: {name: cols}
spec:
  platform: amazon-s3
  connection:
    auth: Access Key
    params: {s3AccessKey: \"${env:A}\", s3SecretKey: \"${env:B}\"}
  location: {bucketName: acme-bucket, path: p}
  attributes: [person.name.firstName, {path: personalEmail.address, column: email}]
  identities: [{namespace: Phone_E.164}]
",
    );
    let d = destctl::manifest::load(&[path]).unwrap().desired;
    let cols: Vec<(String, String)> = d.destinations[0]
        .columns
        .iter()
        .map(|c| (c.source.mapping_source(), c.column.clone()))
        .collect();
    assert_eq!(
        cols,
        [
            (
                "person.name.firstName".into(),
                "person_name_firstName".into()
            ),
            ("personalEmail.address".into(), "email".into()),
            ("identityMap.Phone_E//164".into(), "Phone_E_164".into()),
        ]
    );
    assert_eq!(d.destinations[0].attributes.len(), 2);
}

#[test]
fn columns_take_environment_variables() {
    let dir = tempdir();
    let path = write(
        dir.path(),
        "cols.yaml",
        "apiVersion: destctl/v1
kind: Destination
metadata: {name: cols}
spec:
  platform: amazon-s3
  connection:
    auth: Access Key
    params: {s3AccessKey: \"${env:A}\", s3SecretKey: \"${env:B}\"}
  location: {bucketName: acme-bucket, path: p}
  attributes: [{path: personalEmail.address, column: \"${var:emailColumn}\"}]
  identities: [{namespace: \"${var:ns}\"}]
",
    );
    let env = destctl::config::Environment {
        name: "dev".into(),
        sandbox: "dev".into(),
        endpoint: None,
        vars: [("emailColumn", "mail_dev"), ("ns", "ECID")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    let d = destctl::manifest::load_for(std::slice::from_ref(&path), &env)
        .unwrap()
        .desired;
    let cols: Vec<&str> = d.destinations[0]
        .columns
        .iter()
        .map(|c| c.column.as_str())
        .collect();
    assert_eq!(cols, ["mail_dev", "ECID"]);
    // Without an environment the reference is a located error.
    let e = destctl::manifest::load(&[path]).unwrap_err().render(false);
    assert!(e.contains("spec.attributes[0].column"), "{e}");
    assert!(e.contains("cols.yaml:10"), "{e}");
}
