//! Renames (`metadata.formerNames`): the renamed Destination keeps its live objects, whose
//! markers are rewritten; zero creates and zero deletes, even with `--prune`.

use super::*;
use crate::support::cli::Cli;
use crate::support::tempdir;

fn rename_campaign(s: &Workspace) {
    let path = s.dir.join("manifests/campaign-s3.yaml");
    edit_file(
        &path,
        "metadata:\n  name: campaign-s3\n",
        "metadata:\n  name: campaign-exports\n  formerNames: [campaign-s3]\n",
    );
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "destination: campaign-s3\n",
            "destination: campaign-exports\n",
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn a_rename_with_former_names_plans_zero_creates_and_zero_deletes() {
    let s = applied().await;
    let flow = s.flow_id("campaign-s3").await;
    rename_campaign(&s);
    for args in [
        &["plan", "--format", "json"][..],
        &["plan", "--format", "json", "--prune"][..],
    ] {
        let out = s.run(args).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(plan["summary"]["create"], 0, "{plan:#}");
        assert_eq!(plan["summary"]["delete"], 0, "{plan:#}");
        // The five objects get their marker rewritten, nothing else.
        let changes = plan["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 5, "{plan:#}");
        for c in changes {
            assert_eq!(c["action"], "update");
            assert_eq!(c["name"], "campaign-exports");
            let paths: Vec<&str> = c["patch"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["path"].as_str().unwrap())
                .collect();
            assert_eq!(paths, ["/description"], "{c:#}");
            let d = c["patch"][0]["value"].as_str().unwrap();
            assert!(d.contains("[destctl:campaign-exports"), "{d}");
        }
        assert!(plan.get("left_in_place").is_none(), "{plan:#}");
    }
    let (code, report) = drift_json(&s).await;
    assert_eq!(code, 0, "a rename is pending, not drift");
    let d = destination(&report, "campaign-exports");
    assert_eq!(d["state"], "pending");
    assert_eq!(fields(d), [("marker".to_owned(), "pending".to_owned())]);

    let out = s.run(&["apply", "--auto-approve", "--prune"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(s.flow_id("campaign-exports").await, flow, "the same flow");
    let out = s.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let (code, _) = drift_json(&s).await;
    assert_eq!(code, 0);
}

#[test]
fn former_names_are_checked() {
    let s = tempdir();
    let doc = |name: &str, former: &str| {
        format!(
            "apiVersion: destctl/v1\nkind: Destination\nmetadata:\n  name: {name}\n  formerNames: [{former}]\nspec:\n  platform: sftp\n  connection:\n    auth: Basic Authentication for sftp\n    params: {{host: sftp.example.com, username: aep, password: \"${{env:P}}\"}}\n  location: {{mode: FTP, remotePath: /x}}\n"
        )
    };
    let text = [
        doc("a", "a"),
        doc("b", "old"),
        doc("c", "old"),
        doc("d", "b"),
        doc("e", "Bad_Name"),
    ]
    .join("---\n");
    std::fs::write(s.join("d.yaml"), text).unwrap();
    let out = Cli::in_dir(&s).args(["validate", "d.yaml"]).output();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for want in [
        "former name cannot be its own name",
        "`old` is already a former name at",
        "`b` is the name of a Destination of these manifests",
        "`Bad_Name` is not a valid name",
        "metadata.formerNames",
    ] {
        assert!(err.contains(want), "{want:?} in {err}");
    }
    assert!(err.contains("d.yaml:5:"), "{err}");
}
