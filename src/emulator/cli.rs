//! `destctl emulator`: the command-line face of the emulator.

use super::{Emulator, EmulatorConfig, EmulatorError, FaultConfig, Latency};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `destctl emulator`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Keep state in FILE (written atomically after every change); in memory without it.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Answer 400 (2105) when x-sandbox-name is missing instead of using `prod`.
    #[arg(long)]
    pub strict_sandbox: bool,
    /// Lifetime of IMS tokens, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    pub token_lifetime: u64,
    /// Seed of the fault generator (same seed and request order, same faults).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
    /// Probability (0-1) of answering 429 Too Many Requests.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_429: f64,
    /// Retry-After seconds sent with a 429.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub fault_retry_after: u64,
    /// Probability (0-1) of answering 500.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_500: f64,
    /// Probability (0-1) of answering 503.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_503: f64,
    /// Latency added to each Flow Service request: `MS` or `MIN..MAX` (random, milliseconds).
    #[arg(long, value_name = "MS|MIN..MAX", value_parser = latency)]
    pub fault_latency: Option<Latency>,
    /// Serve N Flow Service requests, then close the next one's connection without answering.
    #[arg(long, value_name = "N")]
    pub fault_close_after: Option<u64>,
    /// Once the Nth Flow Service request is answered, rename a flow (seeded pick) as a user in
    /// the AEP UI would (once).
    #[arg(long, value_name = "N")]
    pub fault_edit_after: Option<u64>,
    /// Probability (0-1), per Flow Service request, of such an out-of-band rename.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_edit_probability: f64,
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

fn latency(s: &str) -> Result<Latency, String> {
    let ms = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{t}` is not a number of milliseconds"))
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (min, max) = (ms(a)?, ms(b)?);
            if min > max {
                return Err(format!("{s}: MIN is above MAX"));
            }
            Ok(Latency::Random { min, max })
        }
        None => Ok(Latency::Fixed(ms(s)?)),
    }
}

impl EmulatorArgs {
    /// The configuration these options describe.
    pub fn config(&self) -> EmulatorConfig {
        EmulatorConfig {
            listen: self.listen,
            state_file: self.state.clone(),
            strict_sandbox: self.strict_sandbox,
            token_lifetime: Duration::from_secs(self.token_lifetime),
            faults: FaultConfig {
                seed: self.fault_seed,
                p429: self.fault_429,
                retry_after_secs: self.fault_retry_after,
                p500: self.fault_500,
                p503: self.fault_503,
                latency: self.fault_latency.unwrap_or_default(),
                close_after: self.fault_close_after,
                edit_after: self.fault_edit_after,
                p_edit: self.fault_edit_probability,
            },
        }
    }
}

/// Runs the emulator until Ctrl-C; prints the listening address to stderr.
pub async fn run(args: EmulatorArgs) -> Result<(), EmulatorError> {
    let running = Emulator::start(args.config()).await?;
    eprintln!(
        "destctl emulator listening on {} (IMS: {0}/ims/token/v3, Flow Service: {0}{}){}",
        running.base_url(),
        super::FLOW_SERVICE_BASE,
        match &args.state {
            Some(p) => format!(", state in {}", p.display()),
            None => ", state in memory".to_owned(),
        }
    );
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("destctl emulator: stopping");
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: EmulatorArgs,
    }

    #[test]
    fn flags() {
        let t = T::try_parse_from([
            "x",
            "--fault-429",
            "0.5",
            "--fault-latency",
            "5..10",
            "--fault-close-after",
            "3",
            "--fault-edit-after",
            "4",
            "--fault-edit-probability",
            "0.25",
        ])
        .unwrap();
        let c = t.a.config();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.faults.p429, 0.5);
        assert_eq!(c.faults.close_after, Some(3));
        assert_eq!(c.faults.edit_after, Some(4));
        assert_eq!(c.faults.p_edit, 0.25);
        assert!(T::try_parse_from(["x", "--fault-edit-probability", "1.5"]).is_err());
        assert!(matches!(c.faults.latency, Latency::Random { .. }));
        assert!(T::try_parse_from(["x", "--fault-500", "2"]).is_err());
        assert!(T::try_parse_from(["x", "--fault-latency", "9..1"]).is_err());
    }
}
