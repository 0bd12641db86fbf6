//! A real OpenID Connect provider for the sign-in tests: the certified `oidc-provider` package from the npm registry
//! (tests/oidc/provider.mjs), run with Node.js on loopback. [`prepare`] installs it once (`npm ci` in tests/oidc)
//! where npm is on the machine; without Node.js the tests that need it are skipped, and say so.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

pub const CLIENT_ID: &str = "remit";
pub const CLIENT_SECRET: &str = "a-client-secret-for-the-tests";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Installs the provider's package if it is not there and npm is: whether the provider can run.
pub fn prepare() -> bool {
    let installed = || dir().join("node_modules/oidc-provider/package.json").exists();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        return false;
    }
    if !installed() {
        let _ = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(dir())
            .status();
    }
    installed()
}

/// The provider, stopped on drop.
pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider on a free loopback port, for a remit at `base` (its callback and sign-in page registered).
pub fn start(base: &str) -> Result<Provider> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new("node")
        .arg(dir().join("provider.mjs"))
        .args([
            port.to_string(),
            CLIENT_ID.to_owned(),
            CLIENT_SECRET.to_owned(),
            format!("{base}/login/oidc/callback"),
            format!("{base}/login"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the OpenID provider (node tests/oidc/provider.mjs)")?;
    let out = child.stdout.take().context("the provider's output")?;
    let mut out = BufReader::new(out);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.trim() != "ready" {
        let _ = child.kill();
        bail!("the OpenID provider did not start: {line}");
    }
    // Whatever it says later is read and dropped: a closed pipe would stop it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while out.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    Ok(Provider {
        issuer: format!("http://127.0.0.1:{port}"),
        child,
    })
}

/// remit's settings for the provider.
pub fn settings(provider: &Provider, base: &str) -> remit_server::oidc::Settings {
    remit_server::oidc::Settings {
        issuer: provider.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_url: format!("{base}/login/oidc/callback"),
        post_logout_url: format!("{base}/login"),
        claim: remit_server::oidc::Claim::Subject,
        label: "NHS Care Identity".into(),
    }
}
