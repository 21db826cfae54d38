//! `cargo bench --bench plan`: the plan benchmark of issue 4 point 8, with the targets of
//! issue 8 (see docs/benchmarks.md).
//!
//! Seeds an emulator with S sandboxes × F managed Destinations × A audiences (each Destination
//! the full five-object chain with its ownership markers, created from the plan engine's own
//! create bodies), changes a few percent of the flows, and measures per sandbox: plan wall time
//! against the time to fetch the same list pages alone, the requests made, the CPU time of the
//! diff, peak RSS, and the ops and time of our patches against `json_patch::diff`.
//!
//! Parameters (environment): `DESTCTL_BENCH_S` (20), `DESTCTL_BENCH_F` (100; at most 100, the
//! per-sandbox guardrail the emulator enforces), `DESTCTL_BENCH_A` (250),
//! `DESTCTL_BENCH_CHANGE_PCT` (3), `DESTCTL_BENCH_REPEAT` (5 timed repetitions per sandbox),
//! `DESTCTL_BENCH_EMULATOR` (`process`, the default: the emulator runs in a child process — this
//! same binary — so the peak RSS measured is the plan side's alone; or `inprocess`).
//! Exit status 1 when a target fails.
// A benchmark: it prints its report and panics on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]
// Thread CPU time comes from libc's clock_gettime.
#![allow(unsafe_code)]

use axum::body::Body;
use chrono::NaiveDate;
use destctl::catalog::{
    AuthMethod, ExportMode, Frequency, LocationMode, Platform, Schedule, StartTime, TriggerType,
};
use destctl::client::{Auth, Client, ClientConfig};
use destctl::emulator::{
    EMBEDDED_CLIENT_ID, EMBEDDED_CLIENT_SECRET, EMBEDDED_ORG_ID, Emulator, EmulatorConfig,
    EmulatorState, RunningEmulator, apply_flow_patch,
};
use destctl::fetch::{
    DESTINATION_FLOW_FILTER, FetchOptions, destination_spec_filter, fetch, profile_store_filter,
};
use destctl::live::LiveState;
use destctl::model::{
    AttributePath, DesiredAudience, DesiredConnection, DesiredDestination, DesiredLocation,
    DesiredState, ParamValue, ResourceName, SecretRef, SegmentId, SourceLocation,
};
use destctl::plan::{Action, PlanOptions, PlanTarget, build_plan, diff};
use destctl::wire::Resource;
use destctl::wire::connection::Connection;
use destctl::wire::flow::Flow;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tower::ServiceExt;

const ACCESS_KEY_ENV: &str = "DESTCTL_BENCH_S3_ACCESS_KEY";
const SECRET_KEY_ENV: &str = "DESTCTL_BENCH_S3_SECRET_KEY";
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY00";
/// `updateTime`/`createTime` stamp used when computing desired flows.
const NOW_SECS: i64 = 1_764_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EmulatorMode {
    Process,
    InProcess,
}

#[derive(Clone, Debug)]
struct Params {
    sandboxes: usize,
    flows: usize,
    audiences: usize,
    change_pct: f64,
    repeat: usize,
    mode: EmulatorMode,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

impl Params {
    fn from_env() -> Params {
        let mode = match std::env::var("DESTCTL_BENCH_EMULATOR").as_deref() {
            Err(_) | Ok("process") => EmulatorMode::Process,
            Ok("inprocess") => EmulatorMode::InProcess,
            Ok(other) => panic!("DESTCTL_BENCH_EMULATOR={other:?}: use process or inprocess"),
        };
        let p = Params {
            sandboxes: env_num("DESTCTL_BENCH_S", 20),
            flows: env_num("DESTCTL_BENCH_F", 100),
            audiences: env_num("DESTCTL_BENCH_A", 250),
            change_pct: env_num("DESTCTL_BENCH_CHANGE_PCT", 3.0),
            repeat: env_num("DESTCTL_BENCH_REPEAT", 5),
            mode,
        };
        assert!(p.sandboxes >= 1 && p.flows >= 1 && p.audiences >= 2 && p.repeat >= 1);
        assert!(
            p.flows <= 100,
            "DESTCTL_BENCH_F must be at most 100: the Flow Service (and the emulator) allows 100 destination flows per sandbox"
        );
        p
    }

    /// How many flows of each sandbox are changed.
    fn changed_per_sandbox(&self) -> usize {
        ((self.flows as f64 * self.change_pct / 100.0).round() as usize).clamp(1, self.flows)
    }

    fn sandbox_name(i: usize) -> String {
        format!("bench-{i:03}")
    }
}

// ---------------------------------------------------------------------------------------------
// The desired state, and the changes made to it.

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

fn daily_at(hour: u8) -> Schedule {
    Schedule {
        frequency: Frequency::Daily,
        trigger_type: Some(TriggerType::Scheduled),
        start_date: date("2026-01-05"),
        end_date: None,
        start_time: StartTime::from_hour(hour),
    }
}

fn audience(sandbox: usize, flow: usize, n: usize) -> DesiredAudience {
    DesiredAudience {
        manifest: ResourceName::parse(&format!("aud-{flow}-{n}")).expect("a name"),
        segment_id: SegmentId::parse(&format!("{sandbox:08x}-{flow:04x}-4000-8000-{n:012x}"))
            .expect("a segment id"),
        display_name: Some(format!("Audience {n} of flow {flow}")),
        description: None,
        filename_template: "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%".into(),
        export_mode: ExportMode::DailyFullExport,
        schedule: daily_at(17),
        schedule_name: None,
    }
}

fn destination(sandbox: usize, flow: usize, audiences: usize) -> DesiredDestination {
    let mut params = BTreeMap::new();
    params.insert(
        "s3AccessKey".into(),
        ParamValue::Secret(SecretRef::Env(ACCESS_KEY_ENV.into())),
    );
    params.insert(
        "s3SecretKey".into(),
        ParamValue::Secret(SecretRef::Env(SECRET_KEY_ENV.into())),
    );
    let mut loc = BTreeMap::new();
    loc.insert("bucketName".into(), format!("bench-bucket-{flow}"));
    loc.insert("path".into(), format!("/exports/{flow}"));
    DesiredDestination {
        name: ResourceName::parse(&format!("bench-flow-{flow:04}")).expect("a name"),
        source: SourceLocation::default(),
        former_names: Vec::new(),
        display_name: format!("Bench flow {flow}"),
        description: Some("Seeded by the plan benchmark".into()),
        platform: Platform::AmazonS3Legacy,
        connection: DesiredConnection {
            auth: Some(AuthMethod::AccessKey),
            params,
            credentials_version: 1,
            locations: BTreeMap::new(),
            encryption_key: None,
        },
        location: DesiredLocation {
            mode: LocationMode::S3,
            params: loc,
            include_file_manifest: None,
            files: None,
        },
        attributes: vec![
            AttributePath::parse("person.name.firstName").expect("a path"),
            AttributePath::parse("personalEmail.address").expect("a path"),
        ],
        mandatory_attributes: vec![],
        deduplication_keys: vec![],
        identity_deduplication_keys: vec![],
        columns: vec![],
        enabled: true,
        audiences: (0..audiences).map(|n| audience(sandbox, flow, n)).collect(),
    }
}

/// What is changed in a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ChangeKind {
    AddAudience,
    RemoveAudience,
    ChangeSchedule,
    RenameFlow,
}

impl ChangeKind {
    const ALL: [ChangeKind; 4] = [
        ChangeKind::AddAudience,
        ChangeKind::RemoveAudience,
        ChangeKind::ChangeSchedule,
        ChangeKind::RenameFlow,
    ];
}

/// The flows changed in one sandbox, spread over the sandbox, kinds in turn.
fn changes_for(p: &Params, sandbox: usize) -> Vec<(usize, ChangeKind)> {
    let c = p.changed_per_sandbox();
    (0..c)
        .map(|k| {
            let flow = (k * p.flows / c + sandbox) % p.flows;
            (
                flow,
                ChangeKind::ALL[(sandbox * c + k) % ChangeKind::ALL.len()],
            )
        })
        .collect()
}

/// The desired state of one sandbox: as seeded, or with the changes applied.
fn desired_state(p: &Params, sandbox: usize, changed: bool) -> DesiredState {
    let mut destinations: Vec<DesiredDestination> = (0..p.flows)
        .map(|f| destination(sandbox, f, p.audiences))
        .collect();
    if changed {
        for (flow, kind) in changes_for(p, sandbox) {
            let d = &mut destinations[flow];
            match kind {
                ChangeKind::AddAudience => d.audiences.push(audience(sandbox, flow, p.audiences)),
                ChangeKind::RemoveAudience => {
                    d.audiences.remove(p.audiences / 2);
                }
                ChangeKind::ChangeSchedule => d.audiences[p.audiences / 3].schedule = daily_at(9),
                ChangeKind::RenameFlow => d.display_name.push_str(" (renamed)"),
            }
        }
    }
    DesiredState {
        destinations,
        ..DesiredState::default()
    }
}

fn plan_options(endpoint: &str, sandbox: &str) -> PlanOptions {
    PlanOptions {
        target: PlanTarget {
            endpoint: endpoint.to_owned(),
            sandbox: sandbox.to_owned(),
        },
        prune: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Seeding: the plan of the desired state against an empty sandbox, executed through the
// emulator's router in-process (no socket): the same handlers, validation and server fields
// as over HTTP, without thousands of loopback round trips.

struct Seeder {
    router: axum::Router,
    token: String,
}

impl Seeder {
    fn new(state: &EmulatorState) -> Seeder {
        Seeder {
            router: destctl::emulator::router(state.clone()),
            token: state.issue_token(EMBEDDED_CLIENT_ID),
        }
    }

    async fn call(
        &self,
        method: &str,
        sandbox: &str,
        path: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Value {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", destctl::emulator::FLOW_SERVICE_BASE))
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-api-key", EMBEDDED_CLIENT_ID)
            .header("x-gw-ims-org-id", EMBEDDED_ORG_ID)
            .header("x-sandbox-name", sandbox)
            .header("content-type", "application/json");
        if let Some(etag) = if_match {
            req = req.header("if-match", etag);
        }
        let req = req
            .body(Body::from(serde_json::to_vec(body).expect("json")))
            .expect("a request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("a body");
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "seeding {method} {path} in {sandbox}: {status} {v}"
        );
        v
    }

    /// Creates every Destination of `desired` in `sandbox`, as `apply` would.
    async fn seed(&self, sandbox: &str, desired: &DesiredState) {
        let plan = build_plan(
            desired,
            &LiveState::default(),
            &plan_options("seed", sandbox),
        )
        .expect("a plan on an empty sandbox");
        let mut ids: HashMap<String, String> = HashMap::new();
        for c in &plan.changes {
            assert_eq!(c.action(), Action::Create, "seeding plans creates only");
            let mut body = c.body().cloned().expect("a create body");
            resolve(&mut body, &ids);
            let created = self
                .call("POST", sandbox, c.resource().collection(), None, &body)
                .await;
            let id = created["id"].as_str().expect("an id").to_owned();
            if let Some(patch) = c.patch() {
                let etag = created["etag"].as_str().expect("an etag").to_owned();
                let ops = serde_json::to_value(patch).expect("ops");
                self.call("PATCH", sandbox, &format!("/flows/{id}"), Some(&etag), &ops)
                    .await;
            }
            ids.insert(c.key().expect("a create key").to_owned(), id);
        }
    }
}

/// Replaces `${ref:KEY}` by the created id and the two secret references by their values.
fn resolve(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(key) = s.strip_prefix("${ref:").and_then(|r| r.strip_suffix('}')) {
                *s = ids.get(key).expect("a ref to an earlier create").clone();
            } else if *s == format!("${{env:{ACCESS_KEY_ENV}}}") {
                *s = ACCESS_KEY.into();
            } else if *s == format!("${{env:{SECRET_KEY_ENV}}}") {
                *s = SECRET_KEY.into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| resolve(i, ids)),
        Value::Object(m) => m.values_mut().for_each(|i| resolve(i, ids)),
        _ => {}
    }
}

/// Seeds every sandbox (concurrently); returns the time taken.
async fn seed_all(state: &EmulatorState, p: &Params) -> Duration {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..p.sandboxes {
        let seeder = Seeder::new(state);
        let p = p.clone();
        tasks.spawn(async move {
            let desired = desired_state(&p, s, false);
            seeder.seed(&Params::sandbox_name(s), &desired).await;
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("a seeding task");
    }
    started.elapsed()
}

/// The child process: start an emulator, seed it, say where it listens, serve until stdin
/// closes.
fn run_child_emulator() {
    let p = Params::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let emu = Emulator::start(EmulatorConfig::default())
            .await
            .expect("the emulator starts");
        let seeded = seed_all(emu.state(), &p).await;
        println!("READY {} {}", emu.base_url(), seeded.as_secs_f64());
        std::io::stdout().flush().expect("stdout");
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .expect("stdin reader");
        emu.shutdown().await;
    });
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// Peak and current resident set size of a process, in bytes (`VmHWM`, `VmRSS`).
fn rss(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
/// Resets this process's `VmHWM` to its current RSS (`5` to `/proc/self/clear_refs`);
/// false where the kernel does not allow it.
/// Before that, hands the allocator's free memory back to the kernel (glibc `malloc_trim`),
/// so the figure starts from the live data, as in a fresh `destctl plan` process, and not from
/// what earlier measurements (the pages-alone runs) left cached in malloc's arenas.
fn reset_peak_rss() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim only releases free heap memory; no Rust invariant
        // depends on it.
        unsafe {
            malloc_trim(0);
        }
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

enum EmulatorHandle {
    InProcess(RunningEmulator),
    Process(Child),
}

struct Setup {
    base_url: String,
    handle: EmulatorHandle,
    seed_time: Duration,
    rss_after_seed: u64,
}

impl Setup {
    fn emulator_pid(&self) -> String {
        match &self.handle {
            EmulatorHandle::InProcess(_) => "self".into(),
            EmulatorHandle::Process(c) => c.id().to_string(),
        }
    }
}

async fn start(p: &Params) -> Setup {
    match p.mode {
        EmulatorMode::InProcess => {
            let emu = Emulator::start(EmulatorConfig::default())
                .await
                .expect("the emulator starts");
            let seed_time = seed_all(emu.state(), p).await;
            Setup {
                base_url: emu.base_url(),
                handle: EmulatorHandle::InProcess(emu),
                seed_time,
                rss_after_seed: rss("self").1,
            }
        }
        EmulatorMode::Process => {
            let exe = std::env::current_exe().expect("the bench binary");
            let mut child = Command::new(exe)
                .env("DESTCTL_BENCH_ROLE", "emulator")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("the emulator child starts");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("piped"))
                .read_line(&mut line)
                .expect("the child's READY line");
            let mut words = line.split_whitespace();
            assert_eq!(
                words.next(),
                Some("READY"),
                "the emulator child failed: {line:?}"
            );
            let base_url = words.next().expect("a url").to_owned();
            let seed_time = Duration::from_secs_f64(
                words.next().and_then(|s| s.parse().ok()).expect("seconds"),
            );
            Setup {
                base_url,
                handle: EmulatorHandle::Process(child),
                seed_time,
                rss_after_seed: rss("self").1,
            }
        }
    }
}

async fn stop(setup: Setup) -> u64 {
    match setup.handle {
        EmulatorHandle::InProcess(emu) => {
            emu.shutdown().await;
            0
        }
        EmulatorHandle::Process(mut child) => {
            let peak = rss(&child.id().to_string()).0;
            drop(child.stdin.take());
            let _ = child.wait();
            peak
        }
    }
}

fn client(base_url: &str, sandbox: &str) -> Client {
    Client::new(ClientConfig::new(
        base_url,
        sandbox,
        Auth::ClientCredentials {
            ims_url: base_url.to_owned(),
            client_id: EMBEDDED_CLIENT_ID.into(),
            client_secret: EMBEDDED_CLIENT_SECRET.into(),
            org_id: EMBEDDED_ORG_ID.into(),
            scopes: "openid".into(),
        },
    ))
    .expect("a client")
}

async fn request_counts(http: &reqwest::Client, base_url: &str) -> BTreeMap<String, u64> {
    let v: Value = http
        .get(format!("{base_url}/_emulator/requests"))
        .send()
        .await
        .expect("introspection")
        .json()
        .await
        .expect("json");
    serde_json::from_value(v["requests"].clone()).expect("counts")
}

fn count_delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// What a `destctl plan --format json` does after the client exists: fetch, plan, render.
/// Returns the rendered plan and the fetched live state.
/// Also returns the wall time of each step: fetch, build_plan, render.
async fn plan_once(
    c: &Client,
    desired: &DesiredState,
    opts: &PlanOptions,
) -> (String, LiveState, [Duration; 3]) {
    let t0 = Instant::now();
    let live = fetch(c, &FetchOptions::default()).await.expect("fetch");
    let t1 = Instant::now();
    let plan = build_plan(desired, &live, opts).expect("a plan");
    let t2 = Instant::now();
    let json = destctl::render::json(&plan);
    let t3 = Instant::now();
    (json, live, [t1 - t0, t2 - t1, t3 - t2])
}

/// The same five list calls as `fetch` (same filters, same pages), with the client alone,
/// each item parsed into the same typed wire struct as `fetch` parses it (`Flow`,
/// `Connection`): no `LiveState`, no grouping, no plan.
async fn fetch_pages_only(c: &Client) -> usize {
    let filter = [("property", DESTINATION_FLOW_FILTER.to_owned())];
    let profile = [("property", profile_store_filter())];
    let destination = [("property", destination_spec_filter())];
    let (a, b, b2, s, t) = tokio::try_join!(
        c.list_as::<Flow>(Resource::Flow.collection(), &filter),
        c.list_as::<Connection>(Resource::Connection.collection(), &profile),
        c.list_as::<Connection>(Resource::Connection.collection(), &destination),
        c.list_as::<Connection>(Resource::SourceConnection.collection(), &profile),
        c.list_as::<Connection>(Resource::TargetConnection.collection(), &destination),
    )
    .expect("lists");
    a.len() + b.len() + b2.len() + s.len() + t.len()
}

#[derive(Default)]
struct SandboxFigures {
    plan_cold: Duration,
    plan: Duration,
    fetch_only: Duration,
    requests: u64,
    list_pages: u64,
    build_plan_cpu: Duration,
    flow_diff_cpu: Duration,
    managed_cpu: Duration,
    views_cpu: Duration,
    selectors: usize,
    our_ops: usize,
    our_time: Duration,
    jp_ops: usize,
    jp_time: Duration,
    changes: usize,
    /// Mean wall time of the plan's steps: fetch, build_plan, render.
    steps: [Duration; 3],
    /// `VmHWM` at the end of the cold plan, reset just before it (`None`: reset refused).
    plan_peak_rss: Option<u64>,
    /// RSS just before the cold plan (after the reset).
    rss_before_plan: u64,
}

struct Report {
    sandboxes: Vec<SandboxFigures>,
    seed_time: Duration,
    peak_rss: u64,
    rss_base: u64,
    rss_after_seed: u64,
    emulator_peak_rss: u64,
    mode: EmulatorMode,
    ops_by_kind: BTreeMap<ChangeKind, (usize, usize)>,
}

fn run(p: &Params) -> Report {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let rss_base = rss("self").1;
    eprintln!(
        "plan bench: S={} F={} A={} change={}% repeat={} emulator={:?}; seeding…",
        p.sandboxes, p.flows, p.audiences, p.change_pct, p.repeat, p.mode
    );
    let setup = rt.block_on(start(p));
    eprintln!(
        "seeded {} Destinations ({} selectors) in {:.1} s",
        p.sandboxes * p.flows,
        p.sandboxes * p.flows * (p.audiences + 2),
        setup.seed_time.as_secs_f64()
    );
    let http = reqwest::Client::new();
    let mut figures = Vec::new();
    let mut ops_by_kind: BTreeMap<ChangeKind, (usize, usize)> = BTreeMap::new();
    for s in 0..p.sandboxes {
        let sandbox = Params::sandbox_name(s);
        let opts = plan_options(&setup.base_url, &sandbox);
        let unchanged = desired_state(p, s, false);
        let desired = desired_state(p, s, true);
        let mut f = SandboxFigures::default();

        // A cold plan, as one `destctl plan` invocation: new client, token, list pages.
        let before = rt.block_on(request_counts(&http, &setup.base_url));
        let reset = reset_peak_rss();
        let rss_at_reset = rss("self").1;
        let c = client(&setup.base_url, &sandbox);
        let t = Instant::now();
        let (_, live, _) = rt.block_on(plan_once(&c, &desired, &opts));
        f.plan_cold = t.elapsed();
        f.plan_peak_rss = reset.then(|| rss("self").0);
        f.rss_before_plan = rss_at_reset;
        let after = rt.block_on(request_counts(&http, &setup.base_url));
        let delta = count_delta(&before, &after);
        f.requests = delta.values().sum();
        f.list_pages = delta
            .iter()
            .filter(|(k, _)| k.starts_with("GET "))
            .map(|(_, v)| v)
            .sum();

        // Correctness: the seeded state plans no change; the changed one exactly one op per
        // changed flow.
        let plan0 = build_plan(&unchanged, &live, &opts).expect("a plan");
        assert!(
            !plan0.has_changes(),
            "{sandbox}: the seeded state must plan no change, got {:#?}",
            plan0.changes.first()
        );
        let plan1 = build_plan(&desired, &live, &opts).expect("a plan");
        let expected = changes_for(p, s);
        assert_eq!(
            plan1.changes.len(),
            expected.len(),
            "{sandbox}: one update per changed flow"
        );
        for c in &plan1.changes {
            assert_eq!((c.action(), c.resource()), (Action::Update, Resource::Flow));
            // One audience op, plus the marker's fingerprint refresh in the same patch.
            let ops = c.patch().unwrap_or_default();
            let audience_ops = ops.iter().filter(|o| o.path != "/description").count();
            assert_eq!(audience_ops, 1, "{sandbox}: {c:?}");
            assert!(ops.len() <= 2, "{sandbox}: {c:?}");
        }
        f.changes = plan1.changes.len();

        // Timed repetitions: fetching the list pages alone vs the whole plan, alternating.
        let mut plans = Vec::new();
        let mut fetches = Vec::new();
        for r in 0..p.repeat {
            let mut fetch_run = || {
                let t = Instant::now();
                rt.block_on(fetch_pages_only(&c));
                fetches.push(t.elapsed());
            };
            if r % 2 == 0 {
                fetch_run();
            }
            let t = Instant::now();
            let (json, live, steps) = rt.block_on(plan_once(&c, &desired, &opts));
            plans.push(t.elapsed());
            for (acc, d) in f.steps.iter_mut().zip(steps) {
                *acc += d / p.repeat as u32;
            }
            drop((json, live));
            if r % 2 == 1 {
                let t = Instant::now();
                rt.block_on(fetch_pages_only(&c));
                fetches.push(t.elapsed());
            }
        }
        f.plan = median(plans);
        f.fetch_only = median(fetches);

        // CPU of the diff alone on the fetched live state: build_plan, and flow_diff per flow.
        let mut bp = Vec::new();
        let mut fd = Vec::new();
        let mut mg = Vec::new();
        let mut vw = Vec::new();
        let managed = live.managed();
        let wanted: HashMap<&str, &DesiredDestination> = desired
            .destinations
            .iter()
            .map(|d| (d.name.as_str(), d))
            .collect();
        for _ in 0..p.repeat {
            let t = thread_cpu();
            let plan = build_plan(&desired, &live, &opts).expect("a plan");
            bp.push(thread_cpu() - t);
            drop(plan);
            let t = thread_cpu();
            let mut n = 0;
            for (name, l) in &managed {
                let flow = l.flow.as_ref().expect("a seeded flow");
                n += diff::flow_diff(wanted[name.as_str()], flow.flow().expect("a flow"))
                    .expect("a diff")
                    .ops
                    .iter()
                    .filter(|o| o.path != "/description")
                    .count();
            }
            fd.push(thread_cpu() - t);
            // One audience op per changed flow (each also refreshes its marker's fingerprint).
            assert_eq!(n, f.changes);
            let t = thread_cpu();
            drop(live.managed());
            mg.push(thread_cpu() - t);
            let t = thread_cpu();
            for (name, l) in &managed {
                let flow = l.flow.as_ref().expect("a seeded flow");
                drop(diff::live_flow_view(flow.flow().expect("a flow")));
                drop(diff::desired_flow_view(wanted[name.as_str()]));
            }
            vw.push(thread_cpu() - t);
        }
        f.managed_cpu = median(mg);
        f.views_cpu = median(vw);
        f.build_plan_cpu = median(bp);
        f.flow_diff_cpu = median(fd);

        // Our patch against json_patch::diff on the same live/desired pairs; desired = the
        // live flow after the plan's patch, through the emulator's patch engine.
        let kinds: HashMap<String, ChangeKind> = expected
            .iter()
            .map(|(flow, k)| (desired.destinations[*flow].name.to_string(), *k))
            .collect();
        // json_patch needs the flows as JSON: listed again as `Value`s, by id.
        let filter = [("property", DESTINATION_FLOW_FILTER.to_owned())];
        let raw_flows: HashMap<String, Value> = rt
            .block_on(c.list(Resource::Flow.collection(), &filter))
            .expect("the flow list")
            .into_iter()
            .map(|v| (v["id"].as_str().expect("an id").to_owned(), v))
            .collect();
        for (name, l) in &managed {
            let entity = l.flow.as_ref().expect("a seeded flow");
            let typed = entity.flow().expect("a flow");
            let flow = &raw_flows[&entity.id.0];
            f.selectors += typed.segment_selectors().map_or(0, <[_]>::len)
                + typed.profile_selector_list().map_or(0, <[_]>::len);
            let t = Instant::now();
            let ours = diff::flow_diff(wanted[name.as_str()], typed).expect("a diff");
            f.our_time += t.elapsed();
            let after = if ours.ops.is_empty() {
                flow.clone()
            } else {
                let ops = serde_json::to_value(&ours.ops).expect("ops");
                apply_flow_patch(flow, &ops, NOW_SECS).expect("the server accepts our patch")
            };
            let t = Instant::now();
            let theirs = json_patch::diff(flow, &after);
            f.jp_time += t.elapsed();
            // The marker's fingerprint refresh rides in each changed flow's patch, as a
            // `/description` op on both sides: counted apart from the change itself.
            let ours_n = ours.ops.iter().filter(|o| o.path != "/description").count();
            let theirs_n = theirs
                .0
                .iter()
                .filter(|o| o.path().as_str() != "/description")
                .count();
            f.our_ops += ours_n;
            f.jp_ops += theirs_n;
            if let Some(k) = kinds.get(name) {
                let e = ops_by_kind.entry(*k).or_default();
                e.0 += ours_n;
                e.1 += theirs_n;
            }
        }
        drop(managed);
        drop(live);
        eprintln!(
            "{sandbox}: plan {:.1} ms (cold {:.1}), pages alone {:.1} ms, {} requests, build_plan {:.1} ms CPU",
            ms(f.plan),
            ms(f.plan_cold),
            ms(f.fetch_only),
            f.requests,
            ms(f.build_plan_cpu)
        );
        figures.push(f);
    }
    let (peak_rss, _) = rss("self");
    let rss_after_seed = setup.rss_after_seed;
    let mode = p.mode;
    let seed_time = setup.seed_time;
    let emulator_pid = setup.emulator_pid();
    let emulator_peak_rss = rt.block_on(stop(setup));
    let _ = emulator_pid;
    Report {
        sandboxes: figures,
        seed_time,
        peak_rss,
        rss_base,
        rss_after_seed,
        emulator_peak_rss,
        mode,
        ops_by_kind,
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

struct Row {
    figure: String,
    measured: String,
    target: String,
    pass: Option<bool>,
}

impl Report {
    fn rows(&self, p: &Params) -> Vec<Row> {
        let n = self.sandboxes.len() as f64;
        let sum =
            |f: fn(&SandboxFigures) -> Duration| -> Duration { self.sandboxes.iter().map(f).sum() };
        let max = |f: fn(&SandboxFigures) -> Duration| -> Duration {
            self.sandboxes.iter().map(f).max().unwrap_or_default()
        };
        let plan_total = sum(|f| f.plan);
        let fetch_total = sum(|f| f.fetch_only);
        let ratio = plan_total.as_secs_f64() / fetch_total.as_secs_f64();
        let worst_ratio = self
            .sandboxes
            .iter()
            .map(|f| f.plan.as_secs_f64() / f.fetch_only.as_secs_f64())
            .fold(0.0, f64::max);
        let max_req = self.sandboxes.iter().map(|f| f.requests).max().unwrap_or(0);
        let max_pages = self
            .sandboxes
            .iter()
            .map(|f| f.list_pages)
            .max()
            .unwrap_or(0);
        let req_target = 4 * p.flows.div_ceil(100) as u64 + 4;
        let diff_cpu = sum(|f| f.build_plan_cpu);
        let flow_diff_cpu = sum(|f| f.flow_diff_cpu);
        let selectors: usize = self.sandboxes.iter().map(|f| f.selectors).sum();
        let our_ops: usize = self.sandboxes.iter().map(|f| f.our_ops).sum();
        let jp_ops: usize = self.sandboxes.iter().map(|f| f.jp_ops).sum();
        let changes: usize = self.sandboxes.iter().map(|f| f.changes).sum();
        let plan_adds = self.peak_rss.saturating_sub(self.rss_after_seed);
        let mut rows = vec![
            Row {
                figure: format!("plan wall per sandbox (median of {}), mean / max", p.repeat),
                measured: format!("{:.1} / {:.1} ms", ms(plan_total) / n, ms(max(|f| f.plan))),
                target: "-".into(),
                pass: None,
            },
            Row {
                figure: "plan wall, total of all sandboxes".into(),
                measured: format!("{:.1} ms", ms(plan_total)),
                target: "-".into(),
                pass: None,
            },
            Row {
                figure: "cold plan (new client + token), total".into(),
                measured: format!("{:.1} ms", ms(sum(|f| f.plan_cold))),
                target: "-".into(),
                pass: None,
            },
            Row {
                figure: "  plan steps, total: fetch / build_plan / render json".into(),
                measured: format!(
                    "{:.1} / {:.1} / {:.1} ms",
                    ms(sum(|f| f.steps[0])),
                    ms(sum(|f| f.steps[1])),
                    ms(sum(|f| f.steps[2]))
                ),
                target: "-".into(),
                pass: None,
            },
            Row {
                figure: "list pages alone (typed, as fetch parses them), total".into(),
                measured: format!("{:.1} ms", ms(fetch_total)),
                target: "-".into(),
                pass: None,
            },
            Row {
                figure: "plan wall / pages alone (total; worst sandbox)".into(),
                measured: format!("{ratio:.2}x; {worst_ratio:.2}x"),
                target: "<= 1.10x".into(),
                pass: Some(ratio <= 1.1),
            },
            Row {
                figure: "requests per sandbox, max (list pages + IMS token)".into(),
                measured: format!("{max_req} ({max_pages} + {})", max_req - max_pages),
                target: format!("<= {req_target}"),
                pass: Some(max_req <= req_target),
            },
            Row {
                figure: format!(
                    "diff CPU: build_plan over all {} flows ({selectors} selectors)",
                    self.sandboxes.len() * p.flows
                ),
                measured: format!("{:.1} ms", ms(diff_cpu)),
                target: "<= 100 ms".into(),
                pass: Some(diff_cpu <= Duration::from_millis(100)),
            },
            Row {
                figure: "  parts: LiveState::managed / flow_diff; views (plan::build only)".into(),
                measured: format!(
                    "{:.1} / {:.1} / {:.1} ms",
                    ms(sum(|f| f.managed_cpu)),
                    ms(flow_diff_cpu),
                    ms(sum(|f| f.views_cpu))
                ),
                target: "-".into(),
                pass: None,
            },
        ];
        let plan_peak = self
            .sandboxes
            .iter()
            .map(|f| f.plan_peak_rss)
            .collect::<Option<Vec<u64>>>()
            .and_then(|v| v.into_iter().max());
        let max_rss_before = self
            .sandboxes
            .iter()
            .map(|f| f.rss_before_plan)
            .max()
            .unwrap_or(0);
        match (self.mode, plan_peak) {
            (EmulatorMode::Process, Some(plan_peak)) => {
                rows.push(Row {
                    figure: "peak RSS during one cold plan (fetch+build+render), max".into(),
                    measured: format!(
                        "{:.1} MB (RSS before it {:.1} MB max, runtime baseline {:.1} MB)",
                        mb(plan_peak),
                        mb(max_rss_before),
                        mb(self.rss_base)
                    ),
                    target: "<= 100 MB".into(),
                    pass: Some(plan_peak <= 100 * 1024 * 1024),
                });
                rows.push(Row {
                    figure: "peak RSS, whole bench process (+ pages-alone, json_patch)".into(),
                    measured: format!("{:.1} MB", mb(self.peak_rss)),
                    target: "-".into(),
                    pass: None,
                });
            }
            (EmulatorMode::Process, None) => rows.push(Row {
                figure: "peak RSS, plan process (emulator in a child)".into(),
                measured: format!(
                    "{:.1} MB (runtime baseline {:.1} MB)",
                    mb(self.peak_rss),
                    mb(self.rss_base)
                ),
                target: "<= 100 MB".into(),
                pass: Some(self.peak_rss <= 100 * 1024 * 1024),
            }),
            (EmulatorMode::InProcess, _) => rows.push(Row {
                figure: "peak RSS, one process (emulator + seeded data + plan)".into(),
                measured: format!(
                    "{:.1} MB; after seeding {:.1} MB; plan adds <= {:.1} MB",
                    mb(self.peak_rss),
                    mb(self.rss_after_seed),
                    mb(plan_adds)
                ),
                target: "<= 100 MB (plan's share)".into(),
                pass: Some(plan_adds <= 100 * 1024 * 1024),
            }),
        }
        if self.mode == EmulatorMode::Process {
            rows.push(Row {
                figure: "peak RSS, emulator child (not plan's)".into(),
                measured: format!("{:.1} MB", mb(self.emulator_peak_rss)),
                target: "-".into(),
                pass: None,
            });
        }
        rows.push(Row {
            figure: format!(
                "ops, all pairs, /description left out: ours vs json_patch::diff ({changes} changed flows)"
            ),
            measured: format!("{our_ops} vs {jp_ops}"),
            target: "ours minimal".into(),
            pass: Some(our_ops == changes),
        });
        for (k, (ours, theirs)) in &self.ops_by_kind {
            rows.push(Row {
                figure: format!("  ops for {k:?}"),
                measured: format!("{ours} vs {theirs}"),
                target: "-".into(),
                pass: None,
            });
        }
        rows.push(Row {
            figure: "time, all pairs: flow_diff vs json_patch::diff".into(),
            measured: format!(
                "{:.1} ms vs {:.1} ms",
                ms(sum(|f| f.our_time)),
                ms(sum(|f| f.jp_time))
            ),
            target: "-".into(),
            pass: None,
        });
        rows.push(Row {
            figure: "seeding (not measured against a target)".into(),
            measured: format!("{:.1} s", self.seed_time.as_secs_f64()),
            target: "-".into(),
            pass: None,
        });
        rows
    }

    fn all_pass(&self, p: &Params) -> bool {
        self.rows(p).iter().all(|r| r.pass != Some(false))
    }

    fn print(&self, p: &Params) {
        let rows = self.rows(p);
        let w0 = rows
            .iter()
            .map(|r| r.figure.chars().count())
            .max()
            .unwrap_or(0);
        let w1 = rows
            .iter()
            .map(|r| r.measured.chars().count())
            .max()
            .unwrap_or(0);
        let w2 = rows
            .iter()
            .map(|r| r.target.chars().count())
            .max()
            .unwrap_or(0);
        println!(
            "destctl plan benchmark: S={} sandboxes x F={} flows x A={} audiences, {} flows changed per sandbox, emulator {}",
            p.sandboxes,
            p.flows,
            p.audiences,
            p.changed_per_sandbox(),
            match p.mode {
                EmulatorMode::Process => "in a child process",
                EmulatorMode::InProcess => "in-process",
            }
        );
        println!(
            "{:w0$}  {:w1$}  {:w2$}  result",
            "figure", "measured", "target"
        );
        for r in rows {
            let result = match r.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "",
            };
            println!(
                "{:w0$}  {:w1$}  {:w2$}  {result}",
                r.figure, r.measured, r.target
            );
        }
        println!();
        println!(
            "per sandbox: plan ms | pages alone ms | requests | build_plan CPU ms | cold plan peak RSS MB (RSS before)"
        );
        for (i, f) in self.sandboxes.iter().enumerate() {
            println!(
                "  {}  {:8.1} | {:8.1} | {:3} | {:6.2} | {:6.1} ({:.1})",
                Params::sandbox_name(i),
                ms(f.plan),
                ms(f.fetch_only),
                f.requests,
                ms(f.build_plan_cpu),
                mb(f.plan_peak_rss.unwrap_or(0)),
                mb(f.rss_before_plan)
            );
        }
    }
}

fn main() {
    if std::env::var("DESTCTL_BENCH_ROLE").as_deref() == Ok("emulator") {
        run_child_emulator();
        return;
    }
    let p = Params::from_env();
    let report = run(&p);
    report.print(&p);
    if !report.all_pass(&p) {
        std::process::exit(1);
    }
}
