//! A real PostgreSQL server for tests of the shared state store, never a stand-in (a crate of
//! its own, so that users of the HTTP mock never compile it): a cluster
//! made with `initdb` in a temporary directory (as the `postgres` user when run as root, since
//! PostgreSQL refuses to run as root), listening on loopback only, stopped and removed when the
//! handle is dropped. With `MPT_TEST_POSTGRES` set (a URL of a server `.ci/run` started), a
//! fresh database is made in that server instead.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod bouncer;
mod tls;
mod v1;

pub use bouncer::Bouncer;
pub use tls::{CERT_ROLE, SECRET_PASSWORD, ServerCert, TlsFiles};

/// A PostgreSQL database of its own for one test.
pub struct TestPostgres {
    url: String,
    bin: PathBuf,
    /// The cluster this handle made (stopped and removed on drop), if it made one.
    cluster: Option<Cluster>,
}

struct Cluster {
    dir: PathBuf,
    as_postgres: bool,
}

/// Where the server tools are looked for, after `PG_BIN` and `PATH`: Debian's, Fedora's (PGDG)
/// and Homebrew's places, newest version first within each.
const PLACES: &[&str] = &[
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/opt/homebrew/bin",
    "/usr/local/bin",
];

/// How to get the server tools, in one line.
pub const INSTALL: &str = "install PostgreSQL's server tools (Debian: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql@15) or set PG_BIN to the directory holding initdb";

/// The directories of `pattern` (one `*`, in a path component), newest version first.
fn expand(pattern: &str) -> Vec<PathBuf> {
    let Some((head, tail)) = pattern.split_once('*') else {
        return vec![PathBuf::from(pattern)];
    };
    let (parent, prefix) = head.rsplit_once('/').unwrap_or(("", head));
    let mut found: Vec<(Vec<u32>, PathBuf)> =
        std::fs::read_dir(if parent.is_empty() { "/" } else { parent })
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let version = name.strip_prefix(prefix)?;
                        let key = version.split('.').filter_map(|p| p.parse().ok()).collect();
                        Some((key, PathBuf::from(format!("{parent}/{name}{tail}"))))
                    })
                    .collect()
            })
            .unwrap_or_default();
    found.sort();
    found.into_iter().rev().map(|(_, dir)| dir).collect()
}

/// The directory of the server tools (`initdb`): `PG_BIN`, then `PATH`, then Debian's, Fedora's and Homebrew's places.
pub fn bin_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        return match dir.join("initdb").is_file() {
            true => Ok(dir),
            false => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("PG_BIN={} holds no initdb: {INSTALL}", dir.display()),
            )),
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(PLACES.iter().flat_map(|p| expand(p)))
        // A link on PATH (Debian's wrappers, Homebrew's) leads to the version's own directory.
        .filter_map(|dir| std::fs::canonicalize(dir.join("initdb")).ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
        .find(|dir| {
            ["initdb", "pg_ctl", "postgres", "createdb", "psql"]
                .iter()
                .all(|tool| dir.join(tool).is_file())
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no PostgreSQL server tools (initdb) on PATH or in the usual places: {INSTALL}"
                ),
            )
        })
}

/// `start()`, or `None` (said in one line) without the server tools, unless required.
fn or_skip<T>(test: &str, start: impl FnOnce() -> io::Result<T>) -> Option<T> {
    let required = std::env::var("MPT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    match bin_dir() {
        Err(e) if !required => {
            println!("{test}: did not run: {e}");
            None
        }
        _ => match start() {
            Ok(pg) => Some(pg),
            Err(e) => panic!("{test}: PostgreSQL could not be started: {e}"),
        },
    }
}

fn failed(what: &str, out: &Output) -> io::Error {
    io::Error::other(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// A free loopback port, as the system hands one out.
fn free_port() -> io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    /// `tool` of `bin` with `args`, as the `postgres` user when run as root.
    fn run(&self, bin: &Path, tool: &str, args: &[&str]) -> io::Result<Output> {
        let program = bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(args).current_dir("/").output()
    }
}

impl TestPostgres {
    /// A fresh database, as [`start`](TestPostgres::start); or, on a machine without
    /// PostgreSQL's server tools, `None` after one line saying that `test` did not run and how
    /// to install them, unless `MPT_REQUIRE_POSTGRES=1` (as `.ci/run` sets), when it panics.
    /// Any other failure to start one panics: a test that needs it fails.
    pub fn start_or_skip(test: &str) -> Option<TestPostgres> {
        or_skip(test, TestPostgres::start)
    }

    /// A database in a cluster of its own (even with `MPT_TEST_POSTGRES` set: for a test that
    /// restarts it), or `None` as [`start_or_skip`](TestPostgres::start_or_skip).
    pub fn start_own_or_skip(test: &str) -> Option<TestPostgres> {
        or_skip(test, || TestPostgres::cluster(bin_dir()?, None))
    }

    /// Restarts its own cluster (`pg_ctl restart -m fast`: every session ended).
    pub fn restart(&self) -> io::Result<()> {
        let cluster = self
            .cluster
            .as_ref()
            .ok_or_else(|| io::Error::other("not a cluster of its own: start_own_or_skip"))?;
        let data = cluster.dir.join("data").display().to_string();
        // Its log to the file (else the new server would hold this call's output open).
        let log = cluster.dir.join("log").display().to_string();
        let out = cluster.run(
            &self.bin,
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-m", "fast", "-w", "-t", "60", "restart",
            ],
        )?;
        match out.status.success() {
            true => Ok(()),
            false => Err(failed("pg_ctl restart", &out)),
        }
    }

    /// [`start_tls`](TestPostgres::start_tls), or `None` as [`start_or_skip`](TestPostgres::start_or_skip).
    pub fn start_tls_or_skip(test: &str) -> Option<(TestPostgres, TlsFiles)> {
        or_skip(test, TestPostgres::start_tls)
    }

    /// [`start_tls_or_skip`](TestPostgres::start_tls_or_skip) with the server certificate
    /// `server_cert`.
    pub fn start_tls_with_or_skip(
        test: &str,
        server_cert: ServerCert,
    ) -> Option<(TestPostgres, TlsFiles)> {
        or_skip(test, || TestPostgres::start_tls_with(server_cert))
    }

    /// A fresh database: in `MPT_TEST_POSTGRES`'s server when set, else in a new cluster of
    /// its own on a free loopback port.
    pub fn start() -> io::Result<TestPostgres> {
        let bin = bin_dir()?;
        if let Ok(server) = std::env::var("MPT_TEST_POSTGRES")
            && !server.is_empty()
        {
            return TestPostgres::database_in(&server, bin);
        }
        TestPostgres::cluster(bin, None)
    }

    /// A cluster of its own with TLS on (always, `MPT_TEST_POSTGRES` or not): a CA made here
    /// ([`TlsFiles`]), a server certificate for `localhost` only, and `pg_hba.conf` rules for
    /// the roles `tlsonly` (TLS only), [`CERT_ROLE`] (TLS and a client certificate signed by
    /// the CA, `cert`), `secret` (password [`SECRET_PASSWORD`], SCRAM) and
    /// everyone else (trusted on loopback).
    pub fn start_tls() -> io::Result<(TestPostgres, TlsFiles)> {
        TestPostgres::start_tls_with(ServerCert::V3)
    }

    /// [`start_tls`](TestPostgres::start_tls) with the server certificate `server_cert`.
    pub fn start_tls_with(server_cert: ServerCert) -> io::Result<(TestPostgres, TlsFiles)> {
        let bin = bin_dir()?;
        let files = TlsFiles::make(server_cert)?;
        let pg = TestPostgres::cluster(bin, Some(&files))?;
        pg.sql(&format!(
            "create role tlsonly login superuser; create role {CERT_ROLE} login superuser; \
             create role secret login password '{SECRET_PASSWORD}'"
        ))?;
        Ok((pg, files))
    }

    fn cluster(bin: PathBuf, tls: Option<&TlsFiles>) -> io::Result<TestPostgres> {
        let as_postgres = running_as_root();
        let dir = std::env::temp_dir().join(format!(
            "mpt-pg-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir)?;
        let cluster = Cluster { dir, as_postgres };
        if as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .output()?;
            if !out.status.success() {
                return Err(failed("chown", &out));
            }
        }
        let data = cluster.dir.join("data");
        let (data_s, dir_s) = (
            data.display().to_string(),
            cluster.dir.display().to_string(),
        );
        let out = cluster.run(
            &bin,
            "initdb",
            &[
                "-D",
                &data_s,
                "-U",
                "mpt",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        if !out.status.success() {
            return Err(failed("initdb", &out));
        }
        let port = free_port()?;
        let mut options = format!("-h 127.0.0.1 -p {port} -k {dir_s} -c fsync=off");
        if let Some(tls) = tls {
            tls.install(&data, as_postgres)?;
            options.push_str(" -c ssl=on -c ssl_ca_file=root.crt");
        }
        let log = cluster.dir.join("log").display().to_string();
        let out = cluster.run(
            &bin,
            "pg_ctl",
            &[
                "-D", &data_s, "-o", &options, "-l", &log, "-w", "-t", "60", "start",
            ],
        )?;
        if !out.status.success() {
            let log = std::fs::read_to_string(cluster.dir.join("log")).unwrap_or_default();
            return Err(io::Error::other(format!(
                "{}\n{log}",
                failed("pg_ctl start", &out)
            )));
        }
        let server = format!("postgres://mpt@127.0.0.1:{port}/postgres");
        match TestPostgres::database_in(&server, bin.clone()) {
            Ok(mut made) => {
                made.cluster = Some(cluster);
                Ok(made)
            }
            Err(e) => {
                // Stopped and removed, never left running.
                let data = cluster.dir.join("data").display().to_string();
                let _ = cluster.run(
                    &bin,
                    "pg_ctl",
                    &["-D", &data, "-m", "immediate", "-w", "stop"],
                );
                let _ = std::fs::remove_dir_all(&cluster.dir);
                Err(e)
            }
        }
    }

    /// A new database in `server` (a URL of its `postgres` database), made with `createdb`.
    fn database_in(server: &str, bin: PathBuf) -> io::Result<TestPostgres> {
        let name = format!("mpt_{:016x}", fastrand::u64(..));
        let out = Command::new(bin.join("createdb"))
            .arg("--maintenance-db")
            .arg(server)
            .arg(&name)
            .output()?;
        if !out.status.success() {
            return Err(failed("createdb", &out));
        }
        let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
        Ok(TestPostgres {
            url: format!("{base}/{name}"),
            bin,
            cluster: None,
        })
    }

    /// The database's URL (`postgres://mpt@127.0.0.1:PORT/NAME`; no password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the cluster's `postgres` database, for work outside the test's database.
    pub fn server_url(&self) -> String {
        match self.url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/postgres"),
            None => self.url.clone(),
        }
    }

    /// The directory of the server tools this handle uses.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The URL with `password` in it (a server that trusts loopback ignores it).
    pub fn url_with_password(&self, password: &str) -> String {
        self.url
            .replacen("://mpt@", &format!("://mpt:{password}@"), 1)
    }

    /// Runs SQL in the database (`psql`), and returns what it printed.
    pub fn sql(&self, sql: &str) -> io::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&self.url)
            .args(["-c", sql])
            .output()?;
        if !out.status.success() {
            return Err(failed("psql", &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The whole database as `pg_dump` writes it (schema and rows).
    pub fn dump(&self) -> io::Result<String> {
        let out = Command::new(self.bin.join("pg_dump"))
            .args(["--no-owner", "-d"])
            .arg(&self.url)
            .output()?;
        if !out.status.success() {
            return Err(failed("pg_dump", &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(cluster) = &self.cluster {
            let data = cluster.dir.join("data").display().to_string();
            let _ = cluster.run(
                &self.bin,
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "-w", "stop"],
            );
            let _ = std::fs::remove_dir_all(&cluster.dir);
        }
    }
}
