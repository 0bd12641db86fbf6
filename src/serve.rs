//! `remit serve` and `remit demo`.

use remit_server::{AppState, Config};
use remit_store::demo::{DEMO_PASSWORD, SeedOutcome, demo_usernames};

use crate::cli::{DeliveryArgs, DemoArgs, FeedArgs, OidcArgs, ServeArgs, TrustArgs};
use std::sync::Arc;

use remit_domain::imaging::Catalogue;
use remit_domain::pay::PayTable;
use remit_policy::PolicyPack;

use crate::{CliError, CliResult, cli_actor, open_with_pack};

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

async fn run_server(
    store: remit_store::Store,
    pack: Arc<PolicyPack>,
    pay: Arc<PayTable>,
    catalogue: Arc<Catalogue>,
    listen: std::net::SocketAddr,
    config: Config,
    feed: Option<(tokio::net::TcpListener, remit_server::mllp::Feed)>,
) -> CliResult {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Usage(format!("could not listen on {listen}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| CliError::Failed(e.to_string()))?;
    println!("remit listening on http://{addr}");
    tracing::info!(%addr, backend = ?store.backend(), "listening");
    tracing::info!(pack = %pack.dir().display(), policies = pack.policy_count(), "policy pack loaded");
    let state = AppState::new(store.clone(), pack.clone(), config)
        .with_pay_table(pay)
        .with_imaging_catalogue(catalogue);
    // Escalations nobody answers move along the cascade even when nobody is looking at a list (each instance sweeps;
    // each step is taken once, by whichever gets there first); open boards and inboxes are told when one moves.
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            tick.tick().await;
            if let Err(e) = remit_services::obs::sweep(&store, pack.escalation()).await {
                tracing::error!(cause = %e, "escalation cascade failed");
            }
        }
    });
    // Escalations delivered to the paging gateway, from the outbox, every two seconds.
    let deliverer = state.config.delivery.clone().map(|d| {
        tracing::info!(url = %d.url, "escalations delivered to the gateway");
        remit_server::delivery::spawn(state.clone(), d, std::time::Duration::from_secs(2))
    });
    // Admissions, transfers and discharges from the patient administration system.
    let feeder = feed.map(|(listener, feed)| {
        tokio::spawn(remit_server::mllp::serve(
            listener,
            state.clone(),
            feed,
            std::future::pending(),
        ))
    });
    let served = remit_server::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| CliError::Failed(format!("server stopped: {e}")));
    sweeper.abort();
    if let Some(d) = deliverer {
        d.abort();
    }
    if let Some(f) = feeder {
        f.abort();
    }
    served
}

pub async fn serve(
    url: &str,
    pack: Arc<PolicyPack>,
    pay: Arc<PayTable>,
    catalogue: Arc<Catalogue>,
    args: ServeArgs,
    config: Config,
) -> CliResult {
    let store = open_with_pack(url, &pack).await?;
    let config = Config {
        secure_cookies: args.secure_cookies,
        trusted_proxies: args.trusted_proxies,
        max_connections: usize::from(args.max_connections),
        drain: std::time::Duration::from_secs_f64(args.drain),
        ..config
    };
    let (config, feed) = joined(&store, &args.trust, args.listen, config).await?;
    run_server(store, pack, pay, catalogue, args.listen, config, feed).await
}

pub async fn demo(
    url: &str,
    pack: Arc<PolicyPack>,
    pay: Arc<PayTable>,
    catalogue: Arc<Catalogue>,
    args: DemoArgs,
    config: Config,
) -> CliResult {
    let store = open_with_pack(url, &pack).await?;
    match remit_services::demo::seed(&store, &pack, &catalogue, &cli_actor()).await? {
        SeedOutcome::Seeded => println!("demo trust seeded"),
        SeedOutcome::AlreadyPresent => println!("demo trust already present"),
    }
    if args.seed_only {
        return Ok(());
    }
    let users: Vec<&str> = demo_usernames().collect();
    println!("sign in as any of: {}", users.join(", "));
    println!("password for every demo user: {DEMO_PASSWORD}");
    println!("open http://{}/login", args.listen);
    let (config, feed) = joined(&store, &args.trust, args.listen, config).await?;
    run_server(store, pack, pay, catalogue, args.listen, config, feed).await
}

/// `config` joined to the trust's systems as the flags ask (the paging gateway, the identity provider), and the ADT
/// feed's listener, if any.
async fn joined(
    store: &remit_store::Store,
    args: &TrustArgs,
    listen: std::net::SocketAddr,
    config: Config,
) -> CliResult<(Config, Option<(tokio::net::TcpListener, remit_server::mllp::Feed)>)> {
    let feed = feed(store, &args.feed).await?;
    let config = Config {
        password_sign_in: !args.oidc.no_password_sign_in,
        oidc: oidc(&args.oidc, listen).await?,
        delivery: delivery(&args.delivery)?,
        ..config
    };
    Ok((config, feed))
}

/// The ADT feed the flags ask for, if any, listening: a map that does not read, or names a place remit does not
/// know, is a usage error naming its line.
async fn feed(
    store: &remit_store::Store,
    args: &FeedArgs,
) -> CliResult<Option<(tokio::net::TcpListener, remit_server::mllp::Feed)>> {
    let Some(addr) = args.mllp_listen else {
        return Ok(None);
    };
    let locations = match &args.adt_locations {
        None => remit_domain::adt::Locations::default(),
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| CliError::Usage(format!("could not read `{}`: {e}", f.display())))?;
            let map = remit_domain::adt::Locations::parse(&text).map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                CliError::Usage(format!("{}: {}", f.display(), lines.join("; ")))
            })?;
            let places: Vec<String> = store.places().await?.into_iter().map(|p| p.code.to_string()).collect();
            let unknown: Vec<String> = map
                .entries()
                .filter(|(_, p, _)| !places.iter().any(|k| k == p.as_str()))
                .map(|(_, p, line)| format!("line {line}: no place `{p}`"))
                .collect();
            if !unknown.is_empty() {
                return Err(CliError::Usage(format!("{}: {}", f.display(), unknown.join("; "))));
            }
            map
        }
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Usage(format!("could not listen for MLLP on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| CliError::Failed(e.to_string()))?;
    println!("remit taking ADT messages (HL7 v2 over MLLP) on {bound}");
    Ok(Some((
        listener,
        remit_server::mllp::Feed {
            locations: std::sync::Arc::new(locations),
            allow: args.mllp_allow.clone(),
        },
    )))
}

/// The OpenID Connect provider the flags name, discovered: a bad setting, or a provider that cannot be read, is a
/// usage error that says which.
async fn oidc(
    args: &OidcArgs,
    listen: std::net::SocketAddr,
) -> CliResult<Option<std::sync::Arc<remit_server::oidc::Oidc>>> {
    let Some(issuer) = &args.oidc_issuer else {
        return Ok(None);
    };
    let client_id = args
        .oidc_client_id
        .clone()
        .ok_or_else(|| CliError::Usage("--oidc-issuer needs --oidc-client-id".into()))?;
    let secret = match &args.oidc_client_secret_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| CliError::Usage(format!("could not read the client secret `{}`: {e}", f.display())))?,
        None => std::env::var("REMIT_OIDC_CLIENT_SECRET").map_err(|_| {
            CliError::Usage(
                "--oidc-issuer needs a client secret: --oidc-client-secret-file or REMIT_OIDC_CLIENT_SECRET".into(),
            )
        })?,
    };
    let claim = remit_server::oidc::Claim::parse(&args.oidc_claim)
        .map_err(|e| CliError::Usage(format!("--oidc-claim: {e}")))?;
    let redirect_url = args
        .oidc_redirect_url
        .clone()
        .unwrap_or_else(|| format!("http://{listen}/login/oidc/callback"));
    let post_logout_url = match redirect_url.strip_suffix("/login/oidc/callback") {
        Some(base) => format!("{base}/login"),
        None => {
            return Err(CliError::Usage(
                "--oidc-redirect-url must end in /login/oidc/callback".into(),
            ));
        }
    };
    let settings = remit_server::oidc::Settings {
        issuer: issuer.clone(),
        client_id,
        client_secret: secret.trim_end().to_owned(),
        redirect_url,
        post_logout_url,
        claim,
        label: args.oidc_label.clone(),
    };
    let o = remit_server::oidc::Oidc::discover(settings)
        .await
        .map_err(CliError::Usage)?;
    println!("staff sign in through {issuer}");
    Ok(Some(std::sync::Arc::new(o)))
}

/// The delivery of escalations the flags ask for, if any: a bad URL, secret or setting is a usage error.
fn delivery(args: &DeliveryArgs) -> CliResult<Option<remit_server::delivery::Delivery>> {
    let Some(url) = &args.delivery_url else {
        return Ok(None);
    };
    let secret = match &args.delivery_secret_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| CliError::Usage(format!("could not read the delivery secret `{}`: {e}", f.display())))?,
        None => std::env::var("REMIT_DELIVERY_SECRET").map_err(|_| {
            CliError::Usage("--delivery-url needs a secret: --delivery-secret-file or REMIT_DELIVERY_SECRET".into())
        })?,
    };
    let data = remit_server::delivery::PatientData::parse(&args.delivery_patient_data)
        .map_err(|e| CliError::Usage(format!("--delivery-patient-data: {e}")))?;
    remit_server::delivery::Delivery::new(url, secret.trim_end().as_bytes().to_vec(), data)
        .map(Some)
        .map_err(CliError::Usage)
}
