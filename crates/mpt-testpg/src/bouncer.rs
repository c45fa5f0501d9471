//! PgBouncer in front of a test database, for the pooler tests.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{TestPostgres, failed, free_port, running_as_root};

/// PgBouncer in front of a [`TestPostgres`] database, with two aliases of it: `session`
/// (`pool_mode = session`) and `transaction` (`pool_mode = transaction`); idle backends are
/// handed out in turn (`server_round_robin = 1`), not most recently used first. Stopped on
/// drop.
pub struct Bouncer {
    dir: PathBuf,
    port: u16,
}

impl Bouncer {
    /// The URL of the alias `mode` (`session` or `transaction`).
    pub fn url(&self, mode: &str) -> String {
        format!("postgres://mpt@127.0.0.1:{}/{mode}", self.port)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            let _ = Command::new("kill").arg(pid.to_string()).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PgBouncer's binary, on `PATH` or in `/usr/sbin`.
fn pgbouncer_bin() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("pgbouncer"))
        .find(|p| p.is_file())
}

impl TestPostgres {
    /// PgBouncer in front of this database; `None` (said in one line) when it is not
    /// installed, unless `MPT_REQUIRE_POSTGRES=1` (then it panics: `.ci/run` installs it).
    pub fn pgbouncer_or_skip(&self, test: &str) -> Option<Bouncer> {
        let required = std::env::var("MPT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        match (pgbouncer_bin(), required) {
            (None, false) => {
                println!("{test}: did not run: no pgbouncer (Debian: apt-get install pgbouncer)");
                None
            }
            (None, true) => panic!("{test}: no pgbouncer, and MPT_REQUIRE_POSTGRES=1"),
            (Some(bin), _) => match self.bouncer(&bin) {
                Ok(b) => Some(b),
                Err(e) => panic!("{test}: pgbouncer could not be started: {e}"),
            },
        }
    }

    fn bouncer(&self, bin: &Path) -> io::Result<Bouncer> {
        let (server, db) = self
            .url
            .rsplit_once('/')
            .ok_or_else(|| io::Error::other("a URL without a database"))?;
        let pg_port = server.rsplit(':').next().unwrap_or("5432");
        let dir = std::env::temp_dir().join(format!("mpt-bouncer-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let d = dir.display();
        std::fs::write(dir.join("users.txt"), "\"mpt\" \"\"\n")?;
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n\
                 session = host=127.0.0.1 port={pg_port} dbname={db} pool_mode=session\n\
                 transaction = host=127.0.0.1 port={pg_port} dbname={db} pool_mode=transaction\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {d}/users.txt\nlogfile = {d}/log\npidfile = {d}/pid\n\
                 max_client_conn = 50\ndefault_pool_size = 5\nserver_round_robin = 1\n"
            ),
        )?;
        let bouncer = Bouncer { dir, port };
        let as_postgres = running_as_root();
        let mut command = if as_postgres {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&bouncer.dir)
                .output()?;
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        let out = command
            .arg("-d")
            .arg(bouncer.dir.join("pgbouncer.ini"))
            .current_dir("/")
            .output()?;
        if !out.status.success() {
            return Err(failed("pgbouncer", &out));
        }
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > std::time::Duration::from_secs(15) {
                let log = std::fs::read_to_string(bouncer.dir.join("log")).unwrap_or_default();
                return Err(io::Error::other(format!("pgbouncer did not listen: {log}")));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(bouncer)
    }
}
