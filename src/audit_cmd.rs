//! `remit audit`: verify the chain, read it, and keep signed checkpoints of its head outside the database.

use std::path::Path;
use std::process::ExitCode;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use remit_domain::audit::GENESIS;
use remit_domain::time::format_instant;
use remit_store::{Store, VerifyOutcome};
use serde::{Deserialize, Serialize};

use crate::cli::AuditCommand;
use crate::{CliError, CliResult, open_store, print_json};

/// What a checkpoint states: the log had `count` entries and the last one's hash was `head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub format: String,
    pub count: i64,
    pub head: String,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub statement: Statement,
    /// ed25519 over the statement's JSON, hex.
    pub signature: String,
}

const FORMAT: &str = "remit-audit-checkpoint/1";

fn statement_bytes(s: &Statement) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_default()
}

fn read_hex_key<const N: usize>(path: &Path, what: &str) -> CliResult<[u8; N]> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("could not read the {what} `{}`: {e}", path.display())))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::Usage(format!("`{}` is not a {what} ({N} bytes of hex)", path.display())))
}

pub async fn run(url: &str, cmd: AuditCommand) -> CliResult<ExitCode> {
    match cmd {
        AuditCommand::Verify { checkpoint, public_key } => {
            // Read the checkpoint before the database, so that a bad file is a usage error whatever the log holds.
            let checkpoint = match (checkpoint, public_key) {
                (Some(c), Some(k)) => Some(load_checkpoint(&c, &k)?),
                _ => None,
            };
            let store = open_store(url).await?;
            verify(&store, checkpoint).await
        }
        AuditCommand::Log { limit, json } => {
            if !(1..=100_000).contains(&limit) {
                return Err(CliError::Usage(format!(
                    "limit: `{limit}` must be between 1 and 100000"
                )));
            }
            let store = open_store(url).await?;
            let entries = store.audit_log(limit).await?;
            if json {
                print_json(&entries)?;
            } else {
                for e in entries {
                    let reasons = if e.reasons.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", e.reasons.join("; "))
                    };
                    // Actors, targets and reasons can hold what someone typed (a failed sign-in's username).
                    println!(
                        "{:>6} {} {:<7} {} {} {}{}",
                        e.seq,
                        remit_domain::time::uk_precise_text(&e.at),
                        e.decision.as_str(),
                        crate::terminal_safe(&e.actor),
                        crate::terminal_safe(&e.action),
                        crate::terminal_safe(&e.target),
                        crate::terminal_safe(&reasons)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Keygen { out } => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| CliError::Failed(format!("no randomness: {e}")))?;
            let key = SigningKey::from_bytes(&seed);
            let secret = out.with_extension("key");
            let public = out.with_extension("pub");
            write_new(&secret, &hex::encode(seed), true)?;
            write_new(&public, &hex::encode(key.verifying_key().to_bytes()), false)?;
            println!("secret key: {}\npublic key: {}", secret.display(), public.display());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint { key } => {
            let seed: [u8; 32] = read_hex_key(&key, "secret key")?;
            let key = SigningKey::from_bytes(&seed);
            let store = open_store(url).await?;
            let (count, head) = store.audit_head().await?;
            let statement = Statement {
                format: FORMAT.into(),
                count,
                head,
                at: format_instant(store.now()),
            };
            let signature = key.sign(&statement_bytes(&statement));
            let cp = Checkpoint {
                statement,
                signature: hex::encode(signature.to_bytes()),
            };
            print_json(&cp)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_new(path: &Path, contents: &str, secret: bool) -> CliResult {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| CliError::Usage(format!("could not create `{}`: {e}", path.display())))?;
    writeln!(f, "{contents}").map_err(|e| CliError::Failed(format!("could not write `{}`: {e}", path.display())))
}

/// Reads a checkpoint and checks its signature.
fn load_checkpoint(path: &Path, public_key: &Path) -> CliResult<Statement> {
    let key_bytes: [u8; 32] = read_hex_key(public_key, "public key")?;
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| CliError::Usage(format!("`{}` is not an ed25519 public key", public_key.display())))?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("could not read the checkpoint `{}`: {e}", path.display())))?;
    let cp: Checkpoint = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("`{}` is not a checkpoint: {e}", path.display())))?;
    if cp.statement.format != FORMAT {
        return Err(CliError::Usage(format!(
            "`{}` is not a {FORMAT} checkpoint",
            path.display()
        )));
    }
    let sig: [u8; 64] = hex::decode(&cp.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::Failed("the checkpoint's signature is not 64 bytes of hex".into()))?;
    key.verify(&statement_bytes(&cp.statement), &Signature::from_bytes(&sig))
        .map_err(|_| CliError::Failed("the checkpoint's signature does not verify with this public key".into()))?;
    Ok(cp.statement)
}

async fn verify(store: &Store, checkpoint: Option<Statement>) -> CliResult<ExitCode> {
    let result = store.verify_audit().await?;
    if let VerifyOutcome::Broken(b) = &result.outcome {
        println!("audit log broken at {b}");
        println!("{} entries before it verify", result.verified);
        return Ok(ExitCode::from(1));
    }
    println!(
        "audit log intact: {} entries, head {}",
        result.verified, result.head_hash
    );
    if let Some(cp) = checkpoint {
        let expected = if cp.count == 0 {
            Some(hex::encode(GENESIS))
        } else {
            store.audit_entry(cp.count).await?.map(|e| e.hash)
        };
        match expected {
            Some(hash) if hash == cp.head => {
                println!(
                    "checkpoint of {} entries signed at {} matches",
                    cp.count,
                    remit_domain::time::uk_long_text(&cp.at)
                );
            }
            Some(_) => {
                println!(
                    "checkpoint does not match: entry {} differs from the one signed at {}: the log was rewritten",
                    cp.count,
                    remit_domain::time::uk_long_text(&cp.at)
                );
                return Ok(ExitCode::from(1));
            }
            None => {
                println!(
                    "checkpoint does not match: it records {} entries at {} but the log holds {}: entries were removed",
                    cp.count,
                    remit_domain::time::uk_long_text(&cp.at),
                    result.verified
                );
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
