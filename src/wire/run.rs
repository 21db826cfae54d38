//! A dataflow run as `GET /runs?property=flowId==…` lists it, typed down to what export health
//! needs: when it ran, its status (the API's case varies: `success`, `Success`, `failed`), the
//! records and files it exported, and its errors. Every other field is skipped; absent or
//! `null` fields read as `None`.

use serde::Deserialize;

/// A run's `metrics.statusSummary.status`, read case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunStatus {
    /// `success`.
    Success,
    /// `failed`.
    Failed,
    /// `processing`: not finished.
    Processing,
    /// `waiting`: not started.
    Waiting,
    /// Anything else, as sent.
    Other(String),
}

impl RunStatus {
    /// Reads the API's value in any case.
    pub fn parse(s: &str) -> RunStatus {
        match s.to_ascii_lowercase().as_str() {
            "success" | "succeeded" | "completed" => RunStatus::Success,
            "failed" | "failure" | "error" => RunStatus::Failed,
            "processing" | "inprogress" | "in_progress" | "running" => RunStatus::Processing,
            "waiting" | "pending" | "scheduled" => RunStatus::Waiting,
            _ => RunStatus::Other(s.to_owned()),
        }
    }

    /// The lower-case word shown to people.
    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Processing => "processing",
            RunStatus::Waiting => "waiting",
            RunStatus::Other(s) => s,
        }
    }
}

/// One error of a run (`metrics.statusSummary.errors[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct RunError {
    /// Its code.
    #[serde(default)]
    pub code: Option<String>,
    /// Its message.
    #[serde(default)]
    pub message: Option<String>,
}

/// A listed run.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "RunFields")]
pub struct Run {
    /// Its id.
    pub id: String,
    /// The flow it belongs to.
    pub flow_id: Option<String>,
    /// `createdAt`, epoch ms.
    pub created_at: Option<i64>,
    /// `metrics.durationSummary.startedAtUTC`, epoch ms.
    pub started_at: Option<i64>,
    /// `metrics.durationSummary.completedAtUTC`, epoch ms.
    pub completed_at: Option<i64>,
    /// `metrics.statusSummary.status`.
    pub status: Option<RunStatus>,
    /// `metrics.recordSummary.outputRecordCount`.
    pub records_exported: Option<u64>,
    /// `metrics.fileSummary.outputFileCount`.
    pub files_exported: Option<u64>,
    /// `metrics.statusSummary.errors`.
    pub errors: Vec<RunError>,
}

impl Run {
    /// When it ran: started, else created, else completed (epoch ms).
    pub fn when(&self) -> Option<i64> {
        self.started_at.or(self.created_at).or(self.completed_at)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunFields {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    flow_id: Option<String>,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    metrics: Option<Metrics>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    duration_summary: Option<DurationSummary>,
    #[serde(default)]
    record_summary: Option<RecordSummary>,
    #[serde(default)]
    file_summary: Option<FileSummary>,
    #[serde(default)]
    status_summary: Option<StatusSummary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DurationSummary {
    #[serde(default, rename = "startedAtUTC")]
    started_at_utc: Option<i64>,
    #[serde(default, rename = "completedAtUTC")]
    completed_at_utc: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordSummary {
    #[serde(default)]
    output_record_count: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileSummary {
    #[serde(default)]
    output_file_count: Option<u64>,
}

#[derive(Deserialize)]
struct StatusSummary {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    errors: Option<Vec<RunError>>,
}

impl From<RunFields> for Run {
    fn from(f: RunFields) -> Run {
        let m = f.metrics.unwrap_or_default();
        let (started_at, completed_at) = m
            .duration_summary
            .map_or((None, None), |d| (d.started_at_utc, d.completed_at_utc));
        let (status, errors) = m.status_summary.map_or((None, Vec::new()), |s| {
            (
                s.status.as_deref().map(RunStatus::parse),
                s.errors.unwrap_or_default(),
            )
        });
        Run {
            id: f.id.unwrap_or_default(),
            flow_id: f.flow_id,
            created_at: f.created_at,
            started_at,
            completed_at,
            status,
            records_exported: m.record_summary.and_then(|r| r.output_record_count),
            files_exported: m.file_summary.and_then(|r| r.output_file_count),
            errors,
        }
    }
}

/// A flow's `lastRunDetails`: the newest run in brief.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRunDetails {
    /// The run id.
    #[serde(default)]
    pub id: Option<String>,
    /// Its state (`success`, `failed`, …).
    #[serde(default)]
    pub state: Option<String>,
    /// Started, epoch ms.
    #[serde(default, rename = "startedAtUTC")]
    pub started_at_utc: Option<i64>,
    /// Completed, epoch ms.
    #[serde(default, rename = "completedAtUTC")]
    pub completed_at_utc: Option<i64>,
}

impl LastRunDetails {
    /// As a [`Run`] without metrics.
    pub fn to_run(&self, flow_id: &str) -> Run {
        Run {
            id: self.id.clone().unwrap_or_default(),
            flow_id: Some(flow_id.to_owned()),
            created_at: None,
            started_at: self.started_at_utc,
            completed_at: self.completed_at_utc,
            status: self.state.as_deref().map(RunStatus::parse),
            records_exported: None,
            files_exported: None,
            errors: Vec::new(),
        }
    }
}

/// A destination flow as `status` lists it: who it is and how it last ran (everything else,
/// above all the transformations, is skipped).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRunInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its description (with the ownership marker).
    #[serde(default)]
    pub description: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub state: Option<String>,
    /// `createdAt`, epoch ms.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// `lastRunDetails`.
    #[serde(default)]
    pub last_run_details: Option<LastRunDetails>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_shape_and_skips_the_rest() {
        let r: Run = serde_json::from_str(
            r#"{"id": "r1", "flowId": "f1", "createdAt": 5, "etag": "\"e\"", "activities": [],
                "metrics": {"durationSummary": {"startedAtUTC": 10, "completedAtUTC": 20},
                  "sizeSummary": {"inputBytes": 1},
                  "recordSummary": {"outputRecordCount": 42, "sourceSummaries": []},
                  "fileSummary": {"outputFileCount": 2},
                  "statusSummary": {"status": "Failed", "errors": [{"code": "X", "message": "m"}]}}}"#,
        )
        .unwrap();
        assert_eq!(r.status, Some(RunStatus::Failed));
        assert_eq!(r.when(), Some(10));
        assert_eq!((r.records_exported, r.files_exported), (Some(42), Some(2)));
        assert_eq!(r.errors[0].code.as_deref(), Some("X"));
        let bare: Run = serde_json::from_str(r#"{"id": "r2", "metrics": null}"#).unwrap();
        assert_eq!(bare.status, None);
        assert_eq!(RunStatus::parse("success"), RunStatus::Success);
        assert_eq!(RunStatus::parse("odd").as_str(), "odd");
    }
}
