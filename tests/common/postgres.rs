//! A throwaway PostgreSQL cluster for one test: `initdb` in a temporary directory, the server
//! on a free loopback port (trust authentication, nothing reachable from outside), stopped
//! and removed on drop. Needs the server's binaries (Debian's `postgresql`; `bash tests/run.sh`
//! installs it): found under `TRIAGE_PG_BIN`, `/usr/lib/postgresql/<version>/bin` or PATH.
//! PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRIAGE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|d| d.join("initdb").is_file());
    versions.sort();
    if let Some(newest) = versions.pop() {
        return newest;
    }
    let on_path = Command::new("sh").args(["-c", "command -v initdb"]).output().expect("sh");
    let path = String::from_utf8_lossy(&on_path.stdout).trim().to_string();
    assert!(
        !path.is_empty(),
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: `apt-get install postgresql`, or set TRIAGE_PG_BIN"
    );
    Path::new(&path).parent().unwrap().to_path_buf()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(chown.success(), "cannot hand {} to the postgres user", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Postgres { dir, bin, port };
        let data = pg.data();
        pg.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
        let options = format!("-h 127.0.0.1 -p {port} -k {} -c fsync=off", pg.dir.path().display());
        let log = pg.dir.path().join("server.log").display().to_string();
        pg.run("pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "-w", "-t", "60", "start"]);
        // Accepting TCP connections, not only started.
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "PostgreSQL never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A database URL for triage (`--store`).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL with psql, returning its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let out = self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "-w", "stop"]).output();
    }
}
