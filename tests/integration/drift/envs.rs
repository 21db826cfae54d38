//! `drift` with environments (`--env`, `--all-envs`) and `--only`.

use super::*;

const CONFIG: &str = "apiVersion: destctl/v1
kind: Config
environments:
  dev: {sandbox: dev}
  prod: {sandbox: prod}
";

#[tokio::test]
async fn every_environment_in_one_report_and_one_exit_code() {
    let s = applied().await; // applied to sandbox prod
    std::fs::write(s.dir.join("destctl.yaml"), CONFIG).unwrap();
    // A config file asks for a choice.
    let out = s.run(&["drift"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("--env NAME"), "{}", stderr(&out));

    let out = s.run(&["drift", "--all-envs", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dev = &doc["environments"]["dev"];
    let prod = &doc["environments"]["prod"];
    assert_eq!(dev["target"]["sandbox"], "dev");
    // Nothing applied to dev yet: pending, not drift.
    assert_eq!(destination(dev, "campaign-s3")["state"], "pending");
    assert_eq!(destination(prod, "campaign-s3")["state"], "in_sync");

    let id = s.flow_id("campaign-s3").await;
    s.edit(&id, "jane@acme.com", json!({"disable": true})).await;
    let out = s.run(&["drift", "--all-envs"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("=== environment dev ===") && text.contains("=== environment prod ==="),
        "{text}"
    );
    let out = s.run(&["drift", "--env", "dev"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // One metrics exposition, samples labelled by environment.
    let out = s
        .run(&["drift", "--all-envs", "--format", "openmetrics"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    let samples = super::metrics::parse(&stdout(&out));
    let drifted: Vec<(String, f64)> = samples
        .iter()
        .filter(|(n, _, _)| n == "destctl_drift_drifted")
        .map(|(_, l, v)| (l["environment"].clone(), *v))
        .collect();
    assert_eq!(drifted, [("dev".to_owned(), 0.0), ("prod".to_owned(), 1.0)]);

    // --only scopes the report to some Destinations.
    let out = s
        .run(&[
            "drift", "--env", "prod", "--only", "sftp-*", "--format", "json",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sftp-password", "sftp-ssh-key"]);
}
