//! A command's connection to its org: the API client, and for `--local`
//! the embedded emulator it runs against (started in-process on a loopback
//! port, data in the SQLite database `state/local-org.db`, default
//! credentials).

use std::path::PathBuf;

use anyhow::Context;

use super::connect::{self, ConnectionSettings};
use super::{Connection, Global};
use crate::client::{Auth, Client, ClientConfig, Secret};
use m3ter_emulator::{self as emulator, EmulatorConfig, RunningEmulator};

/// Where `--local` keeps the emulator's data (an SQLite database).
pub const LOCAL_DATA: &str = "state/local-org.db";
/// Where `--local` kept it before (a JSON journal): migrated once into
/// [`LOCAL_DATA`] and kept as `state/local-org.json.migrated`.
pub const LEGACY_LOCAL_DATA: &str = "state/local-org.json";

/// An open connection; call [`Session::close`] when done so the embedded
/// emulator (if any) stops cleanly.
pub struct Session {
    pub client: Client,
    pub settings: ConnectionSettings,
    local: Option<RunningEmulator>,
}

impl Session {
    /// Resolves the connection options and, for `--local`, starts the
    /// embedded emulator.
    pub async fn open(g: &Global, c: &Connection) -> anyhow::Result<Session> {
        if !c.local {
            let settings = connect::resolve(g, c)?;
            let client = Client::new(settings.client.clone())?;
            return Ok(Session {
                client,
                settings,
                local: None,
            });
        }
        // Before the emulator starts: a bad --workspace is a usage error.
        let state_path = connect::state_file(g, true, None)?;
        let config = EmulatorConfig {
            data: Some(PathBuf::from(LOCAL_DATA)),
            legacy_data: Some(PathBuf::from(LEGACY_LOCAL_DATA)),
            ..Default::default()
        };
        if let Some(dir) = PathBuf::from(LOCAL_DATA).parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let running = emulator::start(config.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .context("cannot start the embedded emulator for --local")?;
        if let Some(notice) = running.notice() {
            eprintln!("{notice}");
        }
        let base_url = running.base_url();
        let auth = Auth::Credentials {
            key: Secret::new(config.api_key.clone()),
            secret: Secret::new(config.api_secret.clone()),
        };
        let mut client = ClientConfig::new(&base_url, &config.org_id, auth);
        client.ingest_url = base_url.clone();
        // Nothing to protect on loopback: --local is unpaced unless asked.
        client.rate_limit = Some(c.rate_limit.unwrap_or(0.0));
        let settings = ConnectionSettings {
            client: client.clone(),
            state_path,
            org_id: config.org_id.clone(),
            base_url,
        };
        Ok(Session {
            client: Client::new(client)?,
            settings,
            local: Some(running),
        })
    }

    /// Stops the embedded emulator, if any (its database is closed).
    pub async fn close(self) -> anyhow::Result<()> {
        if let Some(running) = self.local {
            running.shutdown().await?;
        }
        Ok(())
    }
}
