//! `destctl validate` of DatasetExport manifests: a valid one is counted; each rule (unknown or
//! retired-card Destination, a name shared with a Destination, CSV, an interval AEP refuses, a
//! time that is not RFC 3339, an end before the start, a dataset listed twice, an unknown field)
//! is a located error with exit 1.

use crate::support::cli::Cli;
use crate::support::{tempdir, write};

const DESTINATIONS: &str = "apiVersion: destctl/v1
kind: Destination
metadata: {name: s3}
spec:
  platform: amazon-s3
  connection:
    auth: Access Key
    params: {s3AccessKey: \"${env:A}\", s3SecretKey: \"${env:B}\"}
  location: {bucketName: acme, path: exports}
---
apiVersion: destctl/v1
kind: Destination
metadata: {name: old}
spec:
  platform: amazon-s3-legacy
  connection:
    auth: Access Key
    params: {s3AccessKey: \"${env:A}\", s3SecretKey: \"${env:B}\"}
  location: {mode: S3, bucketName: acme, path: /x}
";

const EXPORT: &str = "---
apiVersion: destctl/v1
kind: DatasetExport
metadata: {name: web-events}
spec:
  destination: s3
  datasets: [{id: ds1, name: Web events}, {id: ds2}]
  fileType: PARQUET
  compression: GZIP
  schedule: {interval: 1, timeUnit: day, startTime: 2026-12-01T06:00:00Z}
";

fn validate(export: &str) -> (Option<i32>, String) {
    let dir = tempdir();
    write(&dir, "m.yaml", &format!("{DESTINATIONS}{export}"));
    let out = Cli::in_dir(&dir)
        .env("NO_COLOR", "1")
        .args(["validate", "m.yaml"])
        .output();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_valid_dataset_export_is_counted() {
    let (code, err) = validate(EXPORT);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(", 1 dataset export ("), "{err}");
}

#[test]
fn each_rule_is_a_located_error() {
    for (from, to, field, message) in [
        (
            "destination: s3",
            "destination: nope",
            "spec.destination",
            "no Destination named `nope`",
        ),
        (
            "destination: s3",
            "destination: old",
            "spec.destination",
            "has no dataset exports",
        ),
        (
            "name: web-events}",
            "name: s3}",
            "metadata.name",
            "a Destination is also named `s3`",
        ),
        (
            "fileType: PARQUET",
            "fileType: CSV",
            "spec.fileType",
            "CSV is not a dataset file type",
        ),
        (
            "interval: 1, timeUnit: day",
            "interval: 2, timeUnit: hour",
            "spec.schedule.interval",
            "interval 2 is not accepted",
        ),
        (
            "interval: 1, timeUnit: day",
            "interval: 1, timeUnit: hour",
            "spec.schedule.interval",
            "interval 1 is not accepted",
        ),
        (
            "startTime: 2026-12-01T06:00:00Z",
            "startTime: tomorrow",
            "spec.schedule.startTime",
            "is not an RFC 3339 time",
        ),
        (
            "startTime: 2026-12-01T06:00:00Z",
            "startTime: 2026-12-01T06:00:00Z, endTime: 2026-11-01T00:00:00Z",
            "spec.schedule.endTime",
            "not after startTime",
        ),
        (
            "{id: ds2}",
            "{id: ds1}",
            "spec.datasets[1].id",
            "listed twice",
        ),
        (
            "compression: GZIP",
            "compression: GZIP\n  extra: 1",
            "spec",
            "unknown field `extra`",
        ),
    ] {
        let text = EXPORT.replace(from, to);
        assert_ne!(text, EXPORT, "{from}");
        let (code, err) = validate(&text);
        assert_eq!(code, Some(1), "{to}: {err}");
        assert!(err.contains(field), "{to}: {err}");
        assert!(err.contains(message), "{to}: {err}");
        assert!(err.contains("m.yaml:"), "{to}: located: {err}");
    }
}
