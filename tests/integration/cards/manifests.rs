//! `destctl validate` on manifests of the current and the retired cards: the retired cards
//! warn and exit 0, the current cards' location fields and file options are checked against
//! the spec's enums and patterns with located errors, and nothing is sent anywhere.

use crate::support::cli::Cli;
use crate::support::{tempdir, write};

const SCHEDULE: &str = "---\napiVersion: destctl/v1\nkind: Schedule\nmetadata: {name: daily}\nspec: {exportMode: DAILY_FULL_EXPORT, frequency: DAILY, startDate: 2026-12-01}\n";

fn validate(destination: &str) -> (Option<i32>, String) {
    let dir = tempdir();
    write(&dir, "m.yaml", &format!("{destination}{SCHEDULE}"));
    let out = Cli::in_dir(&dir)
        .env("NO_COLOR", "1")
        .args(["validate", "m.yaml"])
        .output();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

fn s3(location: &str) -> String {
    format!(
        "apiVersion: destctl/v1\nkind: Destination\nmetadata: {{name: d}}\nspec:\n  platform: amazon-s3\n  connection:\n    auth: Access Key\n    params: {{s3AccessKey: \"${{env:A}}\", s3SecretKey: \"${{env:B}}\"}}\n  location:\n{location}"
    )
}

#[test]
fn retired_cards_warn_and_still_validate() {
    for (platform, auth, location) in [
        (
            "amazon-s3-legacy",
            "auth: Access Key\n    params: {s3AccessKey: \"${env:A}\", s3SecretKey: \"${env:B}\"}",
            "{mode: S3, bucketName: acme, path: /x}",
        ),
        (
            "azure-blob-legacy",
            "auth: ConnectionString\n    params: {connectionString: \"${env:C}\"}",
            "{mode: AZURE_BLOB, container: acme, path: /x}",
        ),
        (
            "sftp-legacy",
            "auth: Basic Authentication for sftp\n    params: {host: h, username: u, password: \"${env:P}\"}",
            "{mode: FTP, remotePath: /x}",
        ),
    ] {
        let (code, err) = validate(&format!(
            "apiVersion: destctl/v1\nkind: Destination\nmetadata: {{name: d}}\nspec:\n  platform: {platform}\n  connection:\n    {auth}\n  location: {location}\n"
        ));
        assert_eq!(code, Some(0), "{platform}: {err}");
        assert!(
            err.contains("spec.platform: AEP retired the"),
            "{platform}: {err}"
        );
        assert!(
            err.contains("m.yaml:5:13"),
            "located at the platform value: {err}"
        );
        assert!(err.contains("(1 warning)"), "{err}");
    }
}

#[test]
fn current_card_location_rules_are_located() {
    for (location, line_col, needle) in [
        // a legacy mode on a current card
        (
            "    mode: S3\n    bucketName: acme\n    path: x\n",
            "m.yaml:10:11",
            "location mode S3 is not accepted by platform amazon-s3",
        ),
        // fileType outside the enum
        (
            "    bucketName: acme\n    path: x\n    fileType: XML\n",
            "m.yaml:12:15",
            "spec.location.fileType",
        ),
        // compression outside the enum
        (
            "    bucketName: acme\n    path: x\n    compression: ZIP\n",
            "m.yaml:12:18",
            "spec.location.compression",
        ),
        // a CSV option value outside the enum
        (
            "    bucketName: acme\n    path: x\n    csvOptions: {delimiter: \"#\"}\n",
            "m.yaml:12:",
            "delimiter",
        ),
        // CSV options with JSON files
        (
            "    bucketName: acme\n    path: x\n    fileType: JSON\n    csvOptions: {delimiter: \";\"}\n",
            "m.yaml:13:17",
            "csvOptions apply to fileType CSV only",
        ),
        // the path pattern: only the two folder macros
        (
            "    bucketName: acme\n    path: \"x/%DESTINATION%\"\n",
            "m.yaml:11:11",
            "not a valid path",
        ),
        // a field of another card
        (
            "    container: acme\n    bucketName: acme\n    path: x\n",
            "m.yaml:10:16",
            "`container` does not apply to platform amazon-s3",
        ),
        // the encryption key is a file reference, never a literal
        (
            "    bucketName: acme\n    path: x\n    encryption: {publicKey: \"-----BEGIN PGP\"}\n",
            "m.yaml:12:29",
            "${file:PATH}",
        ),
        // the required location fields
        (
            "    path: x\n",
            "m.yaml:9:3",
            "platform amazon-s3 needs bucketName",
        ),
    ] {
        let (code, err) = validate(&s3(location));
        assert_eq!(code, Some(1), "{location}: {err}");
        assert!(
            err.contains(needle),
            "{location}: want {needle:?} in:\n{err}"
        );
        assert!(
            err.contains(line_col),
            "{location}: want {line_col} in:\n{err}"
        );
    }
}

#[test]
fn a_legacy_mode_on_a_current_card_points_at_the_retired_card() {
    let (code, err) = validate(&s3("    mode: S3\n    bucketName: acme\n    path: /x\n"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("retired card's: platform amazon-s3-legacy"),
        "{err}"
    );
}

#[test]
fn cards_without_credentials_or_encryption() {
    // The Data Landing Zone takes no connection and no encryption.
    let dlz = "apiVersion: destctl/v1\nkind: Destination\nmetadata: {name: d}\nspec:\n  platform: data-landing-zone\n  location: {path: x}\n";
    assert_eq!(validate(dlz).0, Some(0));
    let (code, err) = validate(&dlz.replace(
        "  location: {path: x}\n",
        "  connection: {auth: Access Key}\n  location: {path: x, encryption: {publicKey: \"${file:k.asc}\"}}\n",
    ));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("platform data-landing-zone takes no credentials"),
        "{err}"
    );
    assert!(err.contains("does not encrypt files"), "{err}");
    // Every other card needs one.
    let (code, err) = validate(
        "apiVersion: destctl/v1\nkind: Destination\nmetadata: {name: d}\nspec:\n  platform: google-cloud-storage\n  location: {bucketName: acme, path: x}\n",
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains(
            "platform google-cloud-storage needs a connection (auth: Google Cloud Storage"
        ),
        "{err}"
    );
    // GCS bucket names must not look like google.
    let (code, err) = validate(
        "apiVersion: destctl/v1\nkind: Destination\nmetadata: {name: d}\nspec:\n  platform: google-cloud-storage\n  connection:\n    auth: Google Cloud Storage authentication credentials\n    params: {accessKeyId: \"${env:A}\", secretAccessKey: \"${env:B}\"}\n  location: {bucketName: g00gle-exports, path: x}\n",
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("`g00gle-exports` is not a valid bucketName"),
        "{err}"
    );
}

#[test]
fn current_sftp_auth_and_identity_keys() {
    let sftp = |auth: &str, extra: &str| {
        format!(
            "apiVersion: destctl/v1\nkind: Destination\nmetadata: {{name: d}}\nspec:\n  platform: sftp\n  connection:\n    {auth}\n  location: {{remotePath: /x}}\n{extra}"
        )
    };
    let ok = sftp(
        "auth: SFTP with SSH Key\n    params: {domain: h, username: u, sshKey: \"${file:k}\"}",
        "  attributes: [personalEmail.address]\n  identityDeduplicationKeys: [ECID, GAID]\n",
    );
    let (code, err) = validate(&ok);
    assert_eq!(code, Some(0), "{err}");
    // The current card names the server `domain`; `host` is the legacy card's.
    let (code, err) = validate(&sftp(
        "auth: SFTP with Password\n    params: {host: h, username: u, password: \"${env:P}\"}",
        "",
    ));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("unknown param `host` for auth `SFTP with Password`"),
        "{err}"
    );
    assert!(err.contains("missing required param domain"), "{err}");
    // The legacy card's auth name is not the current card's.
    let (code, err) = validate(&sftp(
        "auth: Basic Authentication for sftp\n    params: {domain: h, username: u, password: \"${env:P}\"}",
        "",
    ));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("allowed: SFTP with Password, SFTP with SSH Key"),
        "{err}"
    );
    // Identity keys: namespaces, once, on current cards only.
    let (code, err) = validate(&sftp(
        "auth: SFTP with SSH Key\n    params: {domain: h, username: u, sshKey: \"${file:k}\"}",
        "  identityDeduplicationKeys: [ECID, ECID, \"not an id\"]\n",
    ));
    assert_eq!(code, Some(1));
    assert!(err.contains("`ECID` is listed twice"), "{err}");
    assert!(err.contains("is not an identity namespace"), "{err}");
    let legacy = "apiVersion: destctl/v1\nkind: Destination\nmetadata: {name: d}\nspec:\n  platform: sftp-legacy\n  connection:\n    auth: Basic Authentication for sftp\n    params: {host: h, username: u, password: \"${env:P}\"}\n  location: {mode: FTP, remotePath: /x}\n  identityDeduplicationKeys: [ECID]\n";
    let (code, err) = validate(legacy);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("identity deduplication keys apply to the current cloud"),
        "{err}"
    );
    assert!(err.contains("spec.identityDeduplicationKeys[0]"), "{err}");
}

#[test]
fn v2_filename_macros_on_current_cards() {
    let dest = s3("    bucketName: acme\n    path: x\n");
    let audience = |template: &str| {
        format!(
            "---\napiVersion: destctl/v1\nkind: Audience\nmetadata: {{name: a}}\nspec:\n  segmentId: seg-1\n  activations:\n    - {{destination: d, schedule: daily, filenameTemplate: \"{template}\"}}\n"
        )
    };
    // All V2 macros are optional: no %DESTINATION_NAME% / %SEGMENT_ID% needed.
    let (code, err) = validate(&format!(
        "{dest}{}",
        audience("%SEGMENT_NAME%_%ORGANIZATION_NAME%")
    ));
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = validate(&format!("{dest}{}", audience("%SEGMENT_NAME%_%BOGUS%")));
    assert_eq!(code, Some(1));
    assert!(err.contains("unknown macro %BOGUS%"), "{err}");
    assert!(
        err.contains("%DESTINATION_INSTANCE_NAME%"),
        "the V2 list: {err}"
    );
}
