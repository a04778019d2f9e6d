//! `dr-status`: the DR posture for a person on a bad day, as a table (or `--json`). It reads AWS
//! with the caller's credentials and changes nothing: DescribeClusters and DescribeBackups in the
//! source region, DescribeBackups and the restore kits and drill records (GetParameters) in each
//! destination, and the tracker's running executions.

use tracing::warn;

use crate::cluster::Cluster;
use crate::drill::record::record_name;
use crate::error::AwsError;
use crate::ports::{BackupApi, BackupQuery, ExecutionApi, ParameterStore};
use crate::posture::{Destination, Observed, Row, table};
use crate::restore_kit::parameter_name;

pub const USAGE: &str =
    "usage: dr-status --destinations REGION[,REGION...] [--region SOURCE_REGION] [--stack STACK_NAME] [--json]

Prints, per source cluster and destination region: the newest READY copy, its age, HsmType and
Mode, whether the restore kit there names it, the last restore drill there, and the copies and
executions in flight. Reads
with your credentials (AWS_PROFILE, ...) and changes nothing. --region defaults to AWS_REGION,
--stack to cloudhsm-backup-copy.";

pub const DEFAULT_STACK: &str = "cloudhsm-backup-copy";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub source_region: String,
    pub destinations: Vec<String>,
    pub stack: String,
    pub json: bool,
}

impl Args {
    /// The restore kits' path, as the template sets it.
    pub fn kit_prefix(&self) -> String {
        format!("/cloudhsm-backup-copy/{}", self.stack)
    }

    /// The tracker's name, as the template sets it.
    pub fn tracker_name(&self) -> String {
        format!("{}-copy-tracker", self.stack)
    }
}

/// Reads the command line; `Err` holds what to print (the usage, with the problem first).
pub fn parse_args(args: impl IntoIterator<Item = String>, env_region: Option<String>) -> Result<Args, String> {
    let mut region = env_region.filter(|r| !r.is_empty());
    let mut destinations = None;
    let mut stack = DEFAULT_STACK.to_owned();
    let mut json = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--region" => region = Some(value("--region")?),
            "--destinations" => destinations = Some(value("--destinations")?),
            "--stack" => stack = value("--stack")?,
            "--json" => json = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    let source_region =
        region.ok_or_else(|| format!("no source region: pass --region or set AWS_REGION\n\n{USAGE}"))?;
    let destinations: Vec<String> = destinations
        .ok_or_else(|| format!("--destinations is required\n\n{USAGE}"))?
        .split(',')
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    let bad = std::iter::once(&source_region)
        .chain(&destinations)
        .find(|r| !crate::ids::is_region(r));
    if let Some(bad) = bad {
        return Err(format!("{bad:?} is not a region name\n\n{USAGE}"));
    }
    if destinations.is_empty() {
        return Err(format!("--destinations names no region\n\n{USAGE}"));
    }
    Ok(Args {
        source_region,
        destinations,
        stack,
        json,
    })
}

/// Everything the posture needs, read once, each region on its own: what cannot be read is
/// said (in `notes` and the rows), and the rest is still shown. On a bad day the source region
/// may be the one that is down. `executions` is `None` when the tracker was not found.
pub async fn observe<B: BackupApi, E: ExecutionApi, P: ParameterStore>(
    args: &Args,
    backups: &B,
    executions: Option<&E>,
    parameters: &P,
) -> (Observed, Vec<String>) {
    let source = args.source_region.as_str();
    let mut notes = Vec::new();
    let clusters = backups.describe_clusters(source, None).await.unwrap_or_else(|e| {
        note(&mut notes, format!("cannot describe the clusters in {source}"), &e);
        Vec::new()
    });
    let source_backups = backups
        .describe_backups(source, BackupQuery::All { since: None })
        .await
        .unwrap_or_else(|e| {
            note(&mut notes, format!("cannot list the backups in {source}"), &e);
            Vec::new()
        });
    let prefix = args.kit_prefix();
    let mut destinations = Vec::new();
    for region in &args.destinations {
        let (destination, mut region_notes) = read_destination(backups, parameters, args, region, &clusters).await;
        notes.append(&mut region_notes);
        destinations.push((region.clone(), destination));
    }
    let running = match executions {
        None => None,
        Some(e) => match e.running_executions().await {
            Ok(names) => Some(names),
            Err(err) => {
                note(&mut notes, "cannot list the running executions".to_owned(), &err);
                None
            }
        },
    };
    let observed = Observed {
        source_region: source.to_owned(),
        clusters,
        source_backups,
        destinations,
        running,
        kit_prefix: prefix,
    };
    (observed, notes)
}

fn note(notes: &mut Vec<String>, what: String, e: &AwsError) {
    warn!(error = %e, "{what}");
    notes.push(format!("{what}: {e}"));
}

/// One DR region's backups and the kits of every cluster the source or the region knows of.
async fn read_destination<B: BackupApi, P: ParameterStore>(
    backups: &B,
    parameters: &P,
    args: &Args,
    region: &str,
    clusters: &[Cluster],
) -> (Destination, Vec<String>) {
    let mut notes = Vec::new();
    let mut destination = Destination::default();
    match backups.describe_backups(region, BackupQuery::All { since: None }).await {
        Ok(listed) => destination.backups = listed,
        Err(e) => {
            notes.push(format!("cannot list the backups in {region}: {e}"));
            destination.unreadable = Some(e.to_string());
        }
    }
    let mut ids: Vec<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
    ids.extend(destination.backups.iter().filter_map(|b| b.source_cluster.as_deref()));
    ids.sort_unstable();
    ids.dedup();
    let prefix = args.kit_prefix();
    // The kits and the drill records, in one read.
    let names: Vec<String> = ids
        .iter()
        .flat_map(|id| {
            [
                parameter_name(&prefix, &args.source_region, id),
                record_name(&prefix, &args.source_region, id),
            ]
        })
        .collect();
    destination.kits = if names.is_empty() {
        Some(Default::default())
    } else {
        match parameters.get_parameters(region, &names).await {
            Ok(kits) => Some(kits),
            Err(e) => {
                notes.push(format!("cannot read the restore kits in {region}: {e}"));
                None
            }
        }
    };
    (destination, notes)
}

/// The table, or the rows as JSON.
pub fn render(rows: &[Row], json: bool) -> String {
    if json {
        serde_json::to_string_pretty(rows).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
    } else if rows.is_empty() {
        "no clusters in the source region".to_owned()
    } else {
        table(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Args, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()), env.map(str::to_owned))
    }

    #[test]
    fn arguments_name_the_regions_the_stack_and_the_format() {
        let args = parse(&["--destinations", "us-west-2, eu-west-1", "--json"], Some("us-east-1")).unwrap();
        assert_eq!(args.source_region, "us-east-1");
        assert_eq!(args.destinations, vec!["us-west-2", "eu-west-1"]);
        assert_eq!((args.stack.as_str(), args.json), (DEFAULT_STACK, true));
        assert_eq!(args.kit_prefix(), "/cloudhsm-backup-copy/cloudhsm-backup-copy");
        assert_eq!(args.tracker_name(), "cloudhsm-backup-copy-copy-tracker");
        let other = parse(
            &[
                "--region",
                "eu-central-1",
                "--destinations",
                "eu-west-1",
                "--stack",
                "dr",
            ],
            Some("us-east-1"),
        )
        .unwrap();
        assert_eq!(
            (other.source_region.as_str(), other.stack.as_str(), other.json),
            ("eu-central-1", "dr", false)
        );
    }

    #[test]
    fn a_bad_command_line_says_what_is_wrong_and_how_to_call() {
        for (args, env, says) in [
            (&["--destinations", "us-west-2"][..], None, "no source region"),
            (&[][..], Some("us-east-1"), "--destinations is required"),
            (
                &["--destinations", "mars-1"][..],
                Some("us-east-1"),
                "\"mars-1\" is not a region",
            ),
            (&["--destinations", ","][..], Some("us-east-1"), "names no region"),
            (&["--destinations"][..], Some("us-east-1"), "needs a value"),
            (&["--frobnicate"][..], Some("us-east-1"), "unknown argument"),
            (&["--help"][..], Some("us-east-1"), "usage: dr-status"),
        ] {
            let err = parse(args, env).unwrap_err();
            assert!(
                err.contains(says) && err.contains("usage: dr-status"),
                "{args:?}: {err}"
            );
        }
    }
}
