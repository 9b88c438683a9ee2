//! A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temp dir, on a free
//! 127.0.0.1 port, as the `postgres` user when run as root.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The newest PostgreSQL server's bin directory, if any is installed.
pub fn postgres_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

/// A PostgreSQL cluster in a temp dir, stopped (immediately) and removed when dropped.
pub struct Cluster {
    pub url: String,
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start(bin: &Path) -> Cluster {
        let dir = tempfile::Builder::new().prefix("leadgate-pg-").tempdir().unwrap();
        // PostgreSQL refuses to run as root: then its files belong to the `postgres` user.
        let as_postgres = std::fs::metadata("/proc/self").unwrap().uid() == 0;
        if as_postgres {
            let owner = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status();
            assert!(owner.unwrap().success(), "chown postgres failed (is there a postgres user?)");
        }
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = Cluster {
            url: format!("postgres://leadgate@127.0.0.1:{port}/postgres"),
            bin: bin.to_path_buf(),
            data: data.clone(),
            as_postgres,
            _dir: dir,
        };
        let started = Instant::now();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "leadgate",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=20",
            cluster._dir.path().display()
        );
        let log = cluster._dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        eprintln!("postgres cluster on port {port} ready in {:?}", started.elapsed());
        cluster
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command.args(args).current_dir(self._dir.path()).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        let program = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let _ = command.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

/// The cluster to test on, or `None` (with a SKIP note) when PostgreSQL is not installed and
/// this is not CI; under CI (`CI` set) a missing PostgreSQL fails the test.
pub fn cluster_or_skip(test: &str) -> Option<Cluster> {
    match postgres_bin() {
        Some(bin) => Some(Cluster::start(&bin)),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: PostgreSQL's server binaries are missing (run scripts/setup.sh)")
        }
        None => {
            eprintln!("SKIP {test}: no PostgreSQL server binaries (run scripts/setup.sh)");
            None
        }
    }
}
