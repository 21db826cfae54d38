//! `manifest::load` builds the desired model that plan and apply use.

use destctl::catalog::{
    AuthMethod, ExportMode, Frequency, LocationMode, Platform, StartTime, TriggerType,
};
use destctl::manifest::{self, Severity};
use destctl::model::{ParamValue, SecretRef};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_examples() -> manifest::Loaded {
    manifest::load(&[root().join("manifests")]).expect("examples are valid")
}

#[test]
fn the_seed_setup_is_modelled() {
    let loaded = load_examples();
    // The one retired card of the examples (amazon-s3-legacy) is the one warning.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].field, "spec.platform");
    assert_eq!(loaded.files.len(), 22);
    let names: Vec<_> = loaded
        .desired
        .destinations
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "destinations sorted by name");
    assert_eq!(names.len(), 19);

    let d = loaded
        .desired
        .destinations
        .iter()
        .find(|d| d.name.as_str() == "campaign-s3")
        .unwrap();
    assert_eq!(d.platform, Platform::AdobeCampaign);
    assert_eq!(d.display_name, "Adobe Campaign exports (S3)");
    assert_eq!(d.source.file, root().join("manifests/campaign-s3.yaml"));
    assert_eq!(d.source.line, 4);
    assert_eq!(d.connection.auth, Some(AuthMethod::S3));
    assert_eq!(d.connection.credentials_version, 1);
    // A relative `${file:}` is taken from the manifest's directory (issue 10).
    assert_eq!(
        d.connection.params["accessId"],
        ParamValue::Secret(SecretRef::File(
            root()
                .join("secrets/example/campaign-s3-access-id")
                .to_string_lossy()
                .into_owned()
        ))
    );
    let loc = &d.connection.locations["secretKey"];
    assert_eq!((loc.line, loc.column), (17, 18));
    assert_eq!(d.location.mode, LocationMode::S3);
    assert_eq!(d.location.params["bucketName"], "acme-campaign-exports");
    assert_eq!(d.location.params["path"], "/campaign");
    assert_eq!(d.location.include_file_manifest, Some(true));
    let attrs: Vec<_> = d.attributes.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        attrs,
        [
            "homeAddress.countryCode",
            "person.name.firstName",
            "person.name.lastName",
            "personalEmail.address",
            "segmentMembership.status"
        ]
    );
    assert_eq!(d.mandatory_attributes.len(), 2);
    assert_eq!(d.deduplication_keys[0].as_str(), "personalEmail.address");
    assert!(d.enabled);

    // Audiences sorted by segment id.
    let ids: Vec<_> = d.audiences.iter().map(|a| a.segment_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "25768be6-ebd5-45cc-8913-12fb3f348613",
            "9f7d37fd-7039-4454-94ef-2b0cd6c3206a"
        ]
    );
    let loyalty = &d.audiences[0];
    assert_eq!(loyalty.export_mode, ExportMode::FirstFullThenIncremental);
    assert_eq!(loyalty.schedule.frequency, Frequency::Every6Hours);
    assert_eq!(loyalty.schedule.end_date.unwrap().to_string(), "2021-12-31");
    assert_eq!(
        loyalty.schedule_name.as_ref().unwrap().as_str(),
        "every-6-hours-december"
    );
    let bikers = &d.audiences[1];
    assert_eq!(bikers.manifest.as_str(), "mountain-bikers");
    assert_eq!(
        bikers.display_name.as_deref(),
        Some("Interested in Mountain Biking")
    );
    assert_eq!(bikers.export_mode, ExportMode::DailyFullExport);
    assert_eq!(bikers.schedule.frequency, Frequency::Once);
    assert_eq!(bikers.schedule.trigger_type, Some(TriggerType::Scheduled));
    assert_eq!(bikers.schedule.start_time, StartTime::from_hour(17));
    assert_eq!(bikers.schedule.end_date, None);
}

#[test]
fn every_destination_has_an_audience_and_every_auth_method_is_shown() {
    let loaded = load_examples();
    let mut pairs = std::collections::BTreeSet::new();
    for d in &loaded.desired.destinations {
        assert!(!d.audiences.is_empty(), "{} has no audience", d.name);
        let info = d.platform.info();
        match d.connection.auth {
            Some(auth) => {
                assert!(info.auth_methods.contains(&auth));
                pairs.insert((d.platform, auth));
                // No literal secret anywhere.
                for p in info.auth_params(auth).iter().filter(|p| p.secret) {
                    assert!(matches!(d.connection.params[p.name], ParamValue::Secret(_)));
                }
            }
            None => assert!(info.auth_methods.is_empty(), "{} has no auth", d.name),
        }
    }
    // Every platform AEP still offers, with every auth method; one retired card is kept as
    // the legacy example.
    for p in Platform::all().filter(|p| !p.info().retired) {
        for a in p.info().auth_methods {
            assert!(pairs.contains(&(p, *a)), "no example for {p} with {a}");
        }
    }
    assert_eq!(
        loaded
            .desired
            .destinations
            .iter()
            .filter(|d| d.platform.info().retired)
            .count(),
        1
    );
}

#[test]
fn inline_schedules_and_defaults() {
    let loaded = load_examples();
    let s3 = loaded
        .desired
        .destinations
        .iter()
        .find(|d| d.name.as_str() == "amazon-s3-legacy")
        .unwrap();
    let a = &s3.audiences[0];
    assert_eq!(a.schedule_name, None);
    assert_eq!(a.schedule.frequency, Frequency::Every12Hours);
    assert_eq!(
        a.filename_template,
        "%DESTINATION_NAME%_%SEGMENT_ID%_%TIMESTAMP%"
    );
    let sftp = loaded
        .desired
        .destinations
        .iter()
        .find(|d| d.name.as_str() == "sftp-password")
        .unwrap();
    assert_eq!(
        sftp.connection.params["port"],
        ParamValue::Literal("22".into())
    );
    assert_eq!(sftp.description, None);
    assert!(sftp.enabled);
}

#[test]
fn errors_carry_file_line_column_and_field() {
    let err = manifest::load(&[root().join("tests/invalid/start-date-not-a-calendar-date.yaml")])
        .unwrap_err();
    let p: Vec<_> = err.errors().collect();
    assert_eq!(p.len(), 1);
    let loc = p[0].location.as_ref().unwrap();
    assert_eq!((loc.line, loc.column), (9, 14));
    assert_eq!(p[0].field, "spec.startDate");
    assert!(p[0].message.contains("2021-02-30"));
    assert_eq!(p[0].severity, Severity::Error);
    let text = std::fs::read_to_string(&loc.file).unwrap();
    assert_eq!(&text[p[0].span.clone().unwrap()], "2021-02-30");
}

#[test]
fn files_are_read_in_sorted_order_and_only_yaml() {
    let tmp = crate::support::tempdir();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("b")).unwrap();
    let sched = |name: &str| {
        format!(
            "apiVersion: destctl/v1\nkind: Schedule\nmetadata: {{name: {name}}}\nspec: {{exportMode: DAILY_FULL_EXPORT, frequency: DAILY, startDate: 2022-01-01}}\n"
        )
    };
    std::fs::write(dir.join("b/z.yml"), sched("one")).unwrap();
    std::fs::write(dir.join("a.yaml"), sched("two")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not yaml: [").unwrap();
    std::fs::write(dir.join("c.yaml"), "# only a comment\n").unwrap();
    let loaded = manifest::load(std::slice::from_ref(&dir)).unwrap();
    let rel: Vec<_> = loaded
        .files
        .iter()
        .map(|f| f.strip_prefix(&dir).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        rel,
        [
            Path::new("a.yaml"),
            Path::new("b/z.yml"),
            Path::new("c.yaml")
        ]
    );
    tmp.close();
}
