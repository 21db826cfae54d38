//! Live destination flows → manifest documents (`destctl import`): one `Destination` per flow
//! (with `spec.adopt.flowId`, so the next `plan` adopts the live objects instead of creating
//! new ones), one `Audience` per audience id (with an activation per imported flow that exports
//! it) and one `Schedule` per distinct schedule (identical ones merged).
//!
//! Names are slugified from the live names and made unique against each other and against
//! `taken` (names already used by manifests and markers). Credentials are written as
//! `${env:<DESTINATION>_<PARAM>}` references (the variables to set are returned); the other
//! auth params as the live values. Pure: reading the flows and writing files is the command's
//! job.

use crate::catalog::{AuthMethod, Card, Platform};

/// The `params.mode` of today's cards.
const SERVER_TO_SERVER: &str = "Server-to-server";
use crate::live::{LiveEntity, LiveState};
use crate::plan::adopt::{LeftUnmanaged, takeover};
use crate::plan::diff::project_audience_value;
use crate::wire::connection::Connection;
use crate::wire::flow::Flow;
use crate::wire::json::Json;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Which flows to import: all unmanaged destination flows when every list is empty, else the
/// flows with one of `ids`, or a name matching one of `name_globs`, or one of `platforms`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Flow ids.
    pub ids: Vec<String>,
    /// Globs on the flow name (`*`, `?`; case-insensitive).
    pub name_globs: Vec<String>,
    /// Platforms.
    pub platforms: Vec<Platform>,
}

/// Names already in use, which imported documents must not take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Destination names (manifests and ownership markers).
    pub destinations: BTreeSet<String>,
    /// Audience manifest names.
    pub audiences: BTreeSet<String>,
    /// Schedule manifest names.
    pub schedules: BTreeSet<String>,
    /// Flows the manifests already adopt (`spec.adopt.flowId`), with their Destination.
    pub adopting: BTreeMap<String, String>,
}

/// Why nothing can be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// `--id` names a flow destctl already manages.
    #[error(
        "flow {id} ({flow_name:?}) is already managed by Destination `{destination}`; it is not imported again"
    )]
    AlreadyManaged {
        /// The flow id.
        id: String,
        /// The flow's name.
        flow_name: String,
        /// The Destination whose marker it carries.
        destination: String,
    },
    /// More than one environment selected.
    #[error("import reads one sandbox: choose one environment with --env NAME ({0} selected)")]
    OneEnvironment(usize),
    /// `--platform` names no platform of the catalog.
    #[error("`{0}` is not a platform; use one of: {1}")]
    UnknownPlatform(String, String),
    /// The output directory already has a file import would write.
    #[error("{0} exists already; import writes new files only (choose another --out)")]
    FileExists(String),
    /// `--id` names a flow the manifests in the output directory already adopt.
    #[error(
        "flow {id} ({flow_name:?}) is already imported as Destination `{destination}` (its adoption is pending: run `destctl apply`)"
    )]
    AlreadyImported {
        /// The flow id.
        id: String,
        /// The flow's name.
        flow_name: String,
        /// The Destination whose manifest adopts it.
        destination: String,
    },
    /// `--id` names no destination flow.
    #[error("no destination flow {0} in this sandbox")]
    NoSuchFlow(String),
    /// A selected flow cannot be written as a manifest.
    #[error("flow {id} ({flow_name:?}) cannot be imported: {why}")]
    Unsupported {
        /// The flow id.
        id: String,
        /// The flow's name.
        flow_name: String,
        /// What is missing or unknown.
        why: String,
    },
}

/// An environment variable the imported manifests read a credential from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable.
    pub name: String,
    /// The Destination.
    pub destination: String,
    /// The auth param.
    pub param: String,
}

/// One imported flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedFlow {
    /// The Destination's `metadata.name`.
    pub name: String,
    /// The flow id.
    pub flow_id: String,
    /// The flow's name.
    pub flow_name: String,
    /// The file its Destination is written to.
    pub file: String,
    /// Objects of it that stay unmanaged.
    pub left: Vec<LeftUnmanaged>,
}

/// A flow the selection matched and skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The flow id.
    pub id: String,
    /// The flow's name.
    pub flow_name: String,
    /// The Destination that manages it, or whose manifest already adopts it.
    pub destination: String,
    /// Whether the adoption is still pending (imported, not applied yet).
    pub pending: bool,
}

/// What `import` writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Files to write: name (relative to the output directory) and text.
    pub files: Vec<(String, String)>,
    /// The flows imported, by Destination name.
    pub flows: Vec<ImportedFlow>,
    /// Managed flows matched by a glob or platform and skipped.
    pub skipped: Vec<Skipped>,
    /// The variables to set before `apply`.
    pub env: Vec<EnvVar>,
    /// Flows a filter (or "all") picked that cannot be written as manifests, and why.
    pub unsupported: Vec<ImportError>,
}

/// The file holding the imported Audience documents.
pub const AUDIENCES_FILE: &str = "imported-audiences.yaml";
/// The file holding the imported Schedule documents.
pub const SCHEDULES_FILE: &str = "imported-schedules.yaml";

/// `*` and `?` glob, case-insensitive.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = glob.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

/// A `metadata.name` from free text: lower-case letters, digits and `-`, at most 50
/// characters (room for a `-N` suffix); `fallback` when nothing is left.
pub fn slugify(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(50).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// `base`, or `base-2`, `base-3`… : the first not in `taken`, which it is added to.
fn unique(base: String, taken: &mut BTreeSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 1;
    while taken.contains(&name) {
        n += 1;
        name = format!("{base}-{n}");
    }
    taken.insert(name.clone());
    name
}

/// `s3SecretKey` → `S3_SECRET_KEY`.
fn screaming(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out.trim_matches('_').to_owned()
}

/// A YAML scalar: plain when it is a simple word, else double-quoted (JSON string syntax,
/// which YAML reads the same).
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_owned()
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// One live audience selector, as import reads it.
struct LiveAudience {
    id: String,
    name: Option<String>,
    description: Option<String>,
    filename_template: Option<String>,
    schedule_key: ScheduleKey,
}

/// A schedule: `(exportMode, frequency, triggerType, startDate, endDate, startTime)`.
type ScheduleKey = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

/// An Audience document being written: its name, the live name and description, and one
/// activation (YAML lines) per imported flow that exports it.
struct AudienceOut {
    name: String,
    display_name: Option<String>,
    description: Option<String>,
    activations: Vec<String>,
}

fn audiences_of(flow: &Flow) -> Vec<LiveAudience> {
    let Some(selectors) = flow.segment_selectors() else {
        return Vec::new();
    };
    selectors
        .iter()
        .filter_map(|s| {
            let v = project_audience_value(s.typed()?.value.as_ref()?);
            let sched = v.get("schedule").cloned().unwrap_or(Value::Null);
            Some(LiveAudience {
                id: str_at(&v, "id")?.to_owned(),
                name: str_at(&v, "name").map(str::to_owned),
                description: str_at(&v, "description").map(str::to_owned),
                filename_template: str_at(&v, "filenameTemplate").map(str::to_owned),
                schedule_key: (
                    str_at(&v, "exportMode")
                        .unwrap_or("DAILY_FULL_EXPORT")
                        .to_owned(),
                    str_at(&sched, "frequency").unwrap_or("DAILY").to_owned(),
                    str_at(&sched, "triggerType").map(str::to_owned),
                    str_at(&sched, "startDate").unwrap_or_default().to_owned(),
                    str_at(&sched, "endDate").map(str::to_owned),
                    str_at(&sched, "startTime").map(str::to_owned),
                ),
            })
        })
        .collect()
}

fn schedule_slug(k: &ScheduleKey) -> String {
    let mode = if k.0 == "FIRST_FULL_THEN_INCREMENTAL" {
        "incremental"
    } else {
        "full"
    };
    let when = match (&k.2, &k.5) {
        (Some(t), _) if t == "AFTER_SEGMENT_EVAL" => "after-segmentation".to_owned(),
        (_, Some(time)) => format!("{}h", time.split(':').next().unwrap_or(time)),
        _ => String::new(),
    };
    slugify(
        &format!("{mode} {} {when} from {}", k.1.replace('_', " "), k.3),
        "imported-schedule",
    )
}

fn platform_of(live: &LiveState, flow: &Flow) -> Option<Platform> {
    let target = flow.target_connection_ids.first()?;
    let spec = live
        .target_connections
        .iter()
        .find(|e| &e.id.0 == target)?
        .connection_spec_id()?
        .to_owned();
    Platform::by_connection_spec(&spec)
}

fn entity<'a>(list: &'a [std::sync::Arc<LiveEntity>], id: Option<&str>) -> Option<&'a LiveEntity> {
    let id = id?;
    list.iter().find(|e| e.id.0 == id).map(|e| &**e)
}

/// The platform, location, account and auth method of a flow destctl can write as a
/// manifest, or why it cannot.
fn supported<'a>(
    live: &'a LiveState,
    flow: &Flow,
) -> Result<(Platform, &'a Connection, &'a Connection, Option<AuthMethod>), String> {
    let platform = platform_of(live, flow)
        .ok_or("its target connection is missing or of a connection spec destctl does not know")?;
    let flow_spec = flow.flow_spec.as_ref().and_then(|s| s.id.as_deref());
    if flow_spec.is_some() && flow_spec == platform.info().dataset_flow_spec_id {
        return Err(
            "it is a dataset export flow; import writes Destinations for audience flows only"
                .into(),
        );
    }
    let target = entity(
        &live.target_connections,
        flow.target_connection_ids.first().map(String::as_str),
    )
    .and_then(LiveEntity::connection)
    .ok_or("its target connection was not listed")?;
    let account = entity(&live.connections, target.base_connection_id.as_deref())
        .and_then(LiveEntity::connection)
        .ok_or("its account (base connection) was not listed")?;
    let auth_name = account.auth.as_ref().and_then(|a| a.spec_name.as_deref());
    let auth = match auth_name {
        // A card without credentials (the Data Landing Zone).
        None if platform.info().auth_methods.is_empty() => None,
        name => Some(
            name.and_then(AuthMethod::from_spec_name)
                .filter(|m| platform.info().auth_methods.contains(m))
                .ok_or_else(|| {
                    format!(
                        "its account's auth method {:?} is not one destctl knows for {}",
                        name.unwrap_or_default(),
                        platform.as_str()
                    )
                })?,
        ),
    };
    Ok((platform, target, account, auth))
}

/// Writes the manifests for the flows of `live` that `selection` picks.
pub fn import(
    live: &LiveState,
    selection: &Selection,
    taken: &Taken,
) -> Result<Imported, ImportError> {
    let everything = selection.ids.is_empty()
        && selection.name_globs.is_empty()
        && selection.platforms.is_empty();
    for id in &selection.ids {
        let Some(f) = live.flows.iter().find(|f| &f.id.0 == id) else {
            return Err(ImportError::NoSuchFlow(id.clone()));
        };
        if let Some(m) = &f.marker {
            return Err(ImportError::AlreadyManaged {
                id: id.clone(),
                flow_name: f.name().unwrap_or_default().to_owned(),
                destination: m.name.clone(),
            });
        }
        if let Some(d) = taken.adopting.get(id) {
            return Err(ImportError::AlreadyImported {
                id: id.clone(),
                flow_name: f.name().unwrap_or_default().to_owned(),
                destination: d.clone(),
            });
        }
    }
    let mut out = Imported::default();
    let mut picked: Vec<&LiveEntity> = Vec::new();
    for f in &live.flows {
        let Some(flow) = f.flow() else { continue };
        let name = flow.name.as_deref().unwrap_or_default();
        let chosen = everything
            || selection.ids.contains(&f.id.0)
            || selection.name_globs.iter().any(|g| glob_matches(g, name))
            || platform_of(live, flow).is_some_and(|p| selection.platforms.contains(&p));
        if !chosen {
            continue;
        }
        let known = match (&f.marker, taken.adopting.get(&f.id.0)) {
            (Some(m), _) => Some((m.name.clone(), false)),
            (None, Some(d)) => Some((d.clone(), true)),
            (None, None) => None,
        };
        if let Some((destination, pending)) = known {
            out.skipped.push(Skipped {
                id: f.id.0.clone(),
                flow_name: name.to_owned(),
                destination,
                pending,
            });
            continue;
        }
        picked.push(f);
    }
    // Oldest first, so names are stable as flows are added.
    picked.sort_by(|a, b| {
        a.created_at()
            .cmp(&b.created_at())
            .then_with(|| a.id.cmp(&b.id))
    });

    let mut dest_names = taken.destinations.clone();
    let mut audience_names = taken.audiences.clone();
    let mut schedule_names = taken.schedules.clone();
    let mut schedules: BTreeMap<ScheduleKey, String> = BTreeMap::new();
    let mut audiences: BTreeMap<String, AudienceOut> = BTreeMap::new();
    let mut audience_order: Vec<String> = Vec::new();

    for f in picked {
        let flow = f.flow().expect("picked flows are flows");
        let flow_name = flow.name.clone().unwrap_or_default();
        let (platform, target, account, auth) = match supported(live, flow) {
            Ok(parts) => parts,
            Err(why) => {
                let e = ImportError::Unsupported {
                    id: f.id.0.clone(),
                    flow_name: flow_name.clone(),
                    why,
                };
                // Named with --id: an error; picked by a filter or "all": skipped and said.
                if selection.ids.contains(&f.id.0) {
                    return Err(e);
                }
                out.unsupported.push(e);
                continue;
            }
        };
        let params = target.params.clone().unwrap_or_default();
        let mode = params
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let name = unique(slugify(&flow_name, "imported-destination"), &mut dest_names);
        let file = format!("{name}.yaml");
        let upper = screaming(&name);

        let mut y = String::new();
        let _ = writeln!(
            y,
            "# Imported by `destctl import` from flow {} ({}).",
            scalar(&f.id.0),
            scalar(&flow_name)
        );
        y.push_str("apiVersion: destctl/v1\nkind: Destination\n");
        let _ = writeln!(y, "metadata:\n  name: {name}\nspec:");
        let _ = writeln!(y, "  displayName: {}", scalar(&flow_name));
        if let Some(d) = flow
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            let _ = writeln!(y, "  description: {}", scalar(d));
        }
        let _ = writeln!(y, "  platform: {}", platform.as_str());
        let live_params = account.auth.as_ref().and_then(|a| a.params.as_ref());
        let mut param_lines = String::new();
        if let Some(auth) = auth {
            let _ = writeln!(y, "  connection:\n    auth: {}", scalar(auth.spec_name()));
        }
        for p in auth.map(AuthMethod::params).unwrap_or_default() {
            if p.secret {
                let var = format!("{upper}_{}", screaming(p.name));
                let _ = writeln!(param_lines, "      {}: '${{env:{var}}}'", p.name);
                out.env.push(EnvVar {
                    name: var,
                    destination: name.clone(),
                    param: p.name.to_owned(),
                });
            } else if let Some(v) = live_params.and_then(|m| m.get(p.name)) {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = writeln!(param_lines, "      {}: {}", p.name, scalar(&text));
            }
        }
        if !param_lines.is_empty() {
            y.push_str("    params:\n");
            y.push_str(&param_lines);
        }
        if auth.is_some() {
            y.push_str("    credentialsVersion: 1\n");
        }
        y.push_str("  location:\n");
        let current = platform.info().card == Card::Current;
        // Current cards are `Server-to-server`, the manifest's default.
        if !(current && mode == SERVER_TO_SERVER) {
            let _ = writeln!(y, "    mode: {}", scalar(&mode));
        }
        for k in ["bucketName", "path", "container", "remotePath"] {
            if let Some(v) = params.get(k).and_then(Value::as_str) {
                let _ = writeln!(y, "    {k}: {}", scalar(v));
            }
        }
        if current {
            for k in ["fileType", "compression"] {
                if let Some(v) = params.get(k).and_then(Value::as_str) {
                    let _ = writeln!(y, "    {k}: {}", scalar(v));
                }
            }
            if let Some(o) = params
                .get("csvOptions")
                .and_then(Value::as_object)
                .filter(|o| !o.is_empty())
            {
                y.push_str("    csvOptions:\n");
                for (k, v) in o {
                    if let Some(v) = v.as_str() {
                        let _ = writeln!(y, "      {k}: {}", Value::String(v.to_owned()));
                    }
                }
            }
        }
        if let Some(b) = params.get("includeFileManifest").and_then(Value::as_bool) {
            let _ = writeln!(y, "    includeFileManifest: {b}");
        }
        let attributes: Vec<String> = flow
            .profile_selector_list()
            .map(|s| {
                s.iter()
                    .filter_map(|sel| sel.typed().and_then(|s| s.path()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        // A flow with these fields at the top of its params is a V2 flow (current cards).
        let v2 = flow
            .params()
            .is_some_and(|p| p.mandatory_fields.is_some() || p.primary_fields.is_some());
        let mandatory: Vec<String> = match flow.mandatory_fields(v2) {
            Some(Json::Typed(v)) => v
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let dedup: Vec<String> = match flow.primary_fields(v2) {
            Some(Json::Typed(v)) => v
                .iter()
                .filter_map(|p| {
                    p.typed()?
                        .attribute_path
                        .as_ref()?
                        .as_str()
                        .map(str::to_owned)
                })
                .collect(),
            _ => Vec::new(),
        };
        for (key, list) in [
            ("attributes", &attributes),
            ("mandatoryAttributes", &mandatory),
            ("deduplicationKeys", &dedup),
        ] {
            if !list.is_empty() {
                let _ = writeln!(y, "  {key}:");
                for a in list {
                    let _ = writeln!(y, "    - {}", scalar(a));
                }
            }
        }
        let _ = writeln!(y, "  enabled: {}", flow.is_enabled());
        let _ = writeln!(y, "  adopt:\n    flowId: {}", scalar(&f.id.0));

        for a in audiences_of(flow) {
            let schedule = schedules
                .entry(a.schedule_key.clone())
                .or_insert_with(|| unique(schedule_slug(&a.schedule_key), &mut schedule_names))
                .clone();
            let mut activation = format!("    - destination: {name}\n      schedule: {schedule}\n");
            if let Some(t) = &a.filename_template {
                let _ = writeln!(activation, "      filenameTemplate: {}", scalar(t));
            }
            let entry = audiences.entry(a.id.clone()).or_insert_with(|| {
                audience_order.push(a.id.clone());
                let base = a
                    .name
                    .as_deref()
                    .map(|n| slugify(n, "audience"))
                    .unwrap_or_else(|| slugify(&format!("audience {}", &a.id), "audience"));
                AudienceOut {
                    name: unique(base, &mut audience_names),
                    display_name: a.name.clone(),
                    description: a.description.clone(),
                    activations: Vec::new(),
                }
            });
            entry.activations.push(activation);
        }
        out.files.push((file.clone(), y));
        out.flows.push(ImportedFlow {
            name,
            flow_id: f.id.0.clone(),
            flow_name,
            file,
            left: takeover(live, f).left,
        });
    }

    if !audiences.is_empty() {
        let mut y =
            String::from("# Imported by `destctl import`: the audiences of the imported flows.\n");
        for (i, id) in audience_order.iter().enumerate() {
            let AudienceOut {
                name,
                display_name: display,
                description,
                activations,
            } = &audiences[id];
            if i > 0 {
                y.push_str("---\n");
            }
            y.push_str("apiVersion: destctl/v1\nkind: Audience\n");
            let _ = writeln!(y, "metadata:\n  name: {name}\nspec:");
            let _ = writeln!(y, "  segmentId: {}", scalar(id));
            if let Some(d) = display {
                let _ = writeln!(y, "  displayName: {}", scalar(d));
            }
            if let Some(d) = description {
                let _ = writeln!(y, "  description: {}", scalar(d));
            }
            y.push_str("  activations:\n");
            for a in activations {
                y.push_str(a);
            }
        }
        out.files.push((AUDIENCES_FILE.into(), y));
    }
    if !schedules.is_empty() {
        let mut y = String::from(
            "# Imported by `destctl import`: the schedules of the imported audiences (identical ones merged).\n",
        );
        let mut by_name: Vec<(&String, &ScheduleKey)> =
            schedules.iter().map(|(k, n)| (n, k)).collect();
        by_name.sort();
        for (i, (name, k)) in by_name.into_iter().enumerate() {
            if i > 0 {
                y.push_str("---\n");
            }
            y.push_str("apiVersion: destctl/v1\nkind: Schedule\n");
            let _ = writeln!(y, "metadata:\n  name: {name}\nspec:");
            let _ = writeln!(y, "  exportMode: {}", scalar(&k.0));
            let _ = writeln!(y, "  frequency: {}", scalar(&k.1));
            if let Some(t) = &k.2 {
                let _ = writeln!(y, "  triggerType: {}", scalar(t));
            }
            let _ = writeln!(y, "  startDate: {}", scalar(&k.3));
            if let Some(e) = &k.4 {
                let _ = writeln!(y, "  endDate: {}", scalar(e));
            }
            if let Some(t) = &k.5 {
                let _ = writeln!(y, "  startTime: {}", Value::String(t.clone()));
            }
        }
        out.files.push((SCHEDULES_FILE.into(), y));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Resource;
    use serde_json::json;
    use std::sync::Arc;

    fn live() -> LiveState {
        let e = |r, v: Value| Arc::new(LiveEntity::parse(r, &v).unwrap());
        let flow = |id: &str, target: &str| {
            json!({"id": id, "etag": "\"1\"", "name": format!("Flow {id}"), "state": "enabled",
                   "sourceConnectionIds": ["s1"], "targetConnectionIds": [target],
                   "transformations": [{"name": "GeneralTransform", "params": {
                       "profileSelectors": {"selectors": [
                           {"type": "JSON_PATH", "value": {"path": "personalEmail.address"}}]},
                       "segmentSelectors": {"selectors": [
                           {"type": "PLATFORM_SEGMENT", "value": {"id": "seg-1", "name": "VIP",
                            "exportMode": "FIRST_FULL_THEN_INCREMENTAL",
                            "schedule": {"frequency": "EVERY_6_HOURS", "startDate": "2026-12-01",
                                         "endDate": "2026-12-31"}}}]}}}]})
        };
        LiveState {
            flows: vec![
                e(Resource::Flow, flow("f1", "t1")),
                e(Resource::Flow, flow("f2", "t2")),
            ],
            connections: vec![e(
                Resource::Connection,
                json!({"id": "a1", "etag": "\"1\"", "connectionSpec": {"id": "64ef4b8b-a6e0-41b5-9677-3805d1ee5dd0"},
                       "auth": {"specName": "Basic Authentication for sftp",
                                "params": {"host": "sftp.acme.test", "username": "exports", "password": "***"}}}),
            )],
            source_connections: vec![],
            target_connections: vec![
                e(
                    Resource::TargetConnection,
                    json!({"id": "t1", "etag": "\"1\"", "baseConnectionId": "a1",
                           "connectionSpec": {"id": "64ef4b8b-a6e0-41b5-9677-3805d1ee5dd0"},
                           "params": {"mode": "FTP", "remotePath": "/out", "format": "CSV"}}),
                ),
                e(
                    Resource::TargetConnection,
                    json!({"id": "t2", "etag": "\"1\"", "baseConnectionId": "a1",
                           "connectionSpec": {"id": "0000-not-a-known-spec"},
                           "params": {"mode": "Server-to-server"}}),
                ),
            ],
            campaign_flow_spec_id: None,
        }
    }

    #[test]
    fn dataset_export_flows_are_not_written_as_destinations() {
        let mut live = live();
        let e = |r, v: Value| Arc::new(LiveEntity::parse(r, &v).unwrap());
        live.flows.push(e(
            Resource::Flow,
            json!({"id": "f3", "etag": "\"1\"", "name": "Datasets", "state": "enabled",
                   "flowSpec": {"id": "269ba276-16fc-47db-92b0-c1049a3c131f", "version": "1.0"},
                   "sourceConnectionIds": ["s3"], "targetConnectionIds": ["t3"],
                   "transformations": []}),
        ));
        live.connections.push(e(
            Resource::Connection,
            json!({"id": "a3", "etag": "\"1\"", "connectionSpec": {"id": "4fce964d-3f37-408f-9778-e597338a21ee"},
                   "auth": {"specName": "Access Key", "params": {"s3AccessKey": "***", "s3SecretKey": "***"}}}),
        ));
        live.target_connections.push(e(
            Resource::TargetConnection,
            json!({"id": "t3", "etag": "\"1\"", "baseConnectionId": "a3",
                   "connectionSpec": {"id": "4fce964d-3f37-408f-9778-e597338a21ee"},
                   "params": {"mode": "Server-to-server", "bucketName": "b", "path": "p",
                              "datasetFileType": "PARQUET", "compression": "GZIP"}}),
        ));
        let out = import(&live, &Selection::default(), &Taken::default()).unwrap();
        assert!(out.flows.iter().all(|f| f.flow_id != "f3"));
        assert!(
            out.unsupported
                .iter()
                .any(|u| u.to_string().contains("flow f3")
                    && u.to_string().contains("dataset export")),
            "{:?}",
            out.unsupported
        );
    }

    #[test]
    fn unsupported_flows_are_skipped_unless_named() {
        let live = live();
        let out = import(&live, &Selection::default(), &Taken::default()).unwrap();
        assert_eq!(out.flows.len(), 1);
        assert_eq!(out.flows[0].name, "flow-f1");
        assert_eq!(out.unsupported.len(), 1);
        assert!(out.unsupported[0].to_string().contains("flow f2"));
        let (_, doc) = &out.files[0];
        assert!(doc.contains("platform: sftp-legacy\n"), "{doc}");
        assert!(
            doc.contains("mode: FTP\n"),
            "legacy cards keep their mode: {doc}"
        );
        assert!(doc.contains("host: sftp.acme.test"), "{doc}");
        assert!(doc.contains("password: '${env:FLOW_F1_PASSWORD}'"), "{doc}");
        assert!(doc.contains("remotePath: \"/out\""), "{doc}");
        assert!(!doc.contains("***"), "{doc}");
        let schedules = &out
            .files
            .iter()
            .find(|(n, _)| n == SCHEDULES_FILE)
            .unwrap()
            .1;
        assert!(
            schedules.contains("name: incremental-every-6-hours-from-2026-12-01"),
            "{schedules}"
        );
        assert!(schedules.contains("endDate: 2026-12-31"), "{schedules}");
        let named = Selection {
            ids: vec!["f2".into()],
            ..Selection::default()
        };
        assert!(matches!(
            import(&live, &named, &Taken::default()),
            Err(ImportError::Unsupported { .. })
        ));
        let taken = Taken {
            destinations: ["flow-f1".to_owned()].into(),
            ..Taken::default()
        };
        let out = import(&live, &Selection::default(), &taken).unwrap();
        assert_eq!(out.flows[0].name, "flow-f1-2");
    }

    #[test]
    fn names_globs_and_scalars() {
        assert_eq!(
            slugify("Loyalty — S3 Export (EU)", "x"),
            "loyalty-s3-export-eu"
        );
        assert_eq!(slugify("!!!", "fallback"), "fallback");
        let mut taken: BTreeSet<String> = ["a".to_owned()].into();
        assert_eq!(unique("a".into(), &mut taken), "a-2");
        assert_eq!(unique("a".into(), &mut taken), "a-3");
        assert!(glob_matches("Loyalty*", "loyalty export"));
        assert!(glob_matches("*s3?", "my-s3x"));
        assert!(!glob_matches("*s3", "my-s3x"));
        assert_eq!(screaming("s3SecretKey"), "S3_SECRET_KEY");
        assert_eq!(screaming("exports-a"), "EXPORTS_A");
        assert_eq!(scalar("acme-1"), "acme-1");
        assert_eq!(scalar("/x"), "\"/x\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("17"), "\"17\"");
        assert_eq!(scalar("a \"q\""), "\"a \\\"q\\\"\"");
    }
}
