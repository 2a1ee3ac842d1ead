//! `tenantry backup` and `tenantry restore`: a copy of Tenantry's own
//! database, and that copy loaded into a fresh database the app then serves.
//!
//! SQLite: `VACUUM INTO` (a consistent, compacted copy taken while the app
//! keeps serving; the WAL's committed pages included). PostgreSQL: `pg_dump
//! --format=custom` and `pg_restore --single-transaction`, run with the
//! connection in `PG*` environment variables, never in their arguments
//! (visible to every user of the machine). After loading, the run end marks
//! are renumbered for the new cluster (`runs::end_marks`) and pending
//! migrations applied. The key that seals client secrets is not in the
//! backup: keep it (DATA_DIR/secret.key or TENANTRY_SECRET_KEY) apart, and
//! give the restored app the same one.

use domain::store::{Backend, Store, StoreOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `tenantry backup` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// The file to write (must not exist yet).
    #[arg(long)]
    pub to: PathBuf,
}

/// `tenantry restore` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// A file `tenantry backup` wrote.
    #[arg(long)]
    pub from: PathBuf,
    /// Only the steps after loading (renumber the end marks, migrate), for a
    /// restore that loaded the data and stopped before them.
    #[arg(long)]
    pub finish: bool,
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// `tenantry backup --to FILE`.
pub async fn backup(database_url: &str, args: BackupArgs) -> Result<(), String> {
    if args.to.exists() {
        return Err(format!(
            "{} already exists: choose a new file (a backup never overwrites one)",
            args.to.display()
        ));
    }
    match Backend::from_url(database_url).map_err(e)? {
        Backend::Sqlite => {
            let store = Store::connect(database_url, StoreOptions::default())
                .await
                .map_err(|e| format!("cannot open the database: {e}"))?;
            let target = args
                .to
                .to_str()
                .ok_or("the backup file's name must be valid UTF-8")?;
            // The read connections are `query_only`, which refuses to write
            // even another file; this process's writer reads the database in
            // one transaction (in WAL mode the serving app keeps writing).
            let mut conn = store.write().await.map_err(e)?;
            sqlx::query("VACUUM INTO $1")
                .bind(target)
                .execute(&mut *conn)
                .await
                .map_err(|e| format!("the backup failed: {e}"))?;
        }
        Backend::Postgres => {
            let pg = PgConnection::parse(database_url)?;
            let out = pg
                .command("pg_dump")
                .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(&args.to)
                .output()
                .map_err(|e| {
                    format!("cannot run pg_dump (install PostgreSQL's client tools): {e}")
                })?;
            if !out.status.success() {
                let _ = std::fs::remove_file(&args.to);
                return Err(format!(
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    let size = std::fs::metadata(&args.to).map(|m| m.len()).unwrap_or(0);
    println!(
        "Backed up to {} ({:.1} MB). Keep the secret key (DATA_DIR/secret.key or TENANTRY_SECRET_KEY) apart from it: the restored app needs the same key to open client secrets.",
        args.to.display(),
        size as f64 / 1e6
    );
    Ok(())
}

/// `tenantry restore --from FILE` into DATABASE_URL (a fresh database).
pub async fn restore(database_url: &str, args: RestoreArgs) -> Result<(), String> {
    if !args.from.is_file() {
        return Err(format!("{} is not a backup file", args.from.display()));
    }
    match Backend::from_url(database_url).map_err(e)? {
        Backend::Sqlite => restore_sqlite(database_url, &args).await?,
        Backend::Postgres => restore_postgres(database_url, &args).await?,
    }
    let store = Store::connect(database_url, StoreOptions::default())
        .await
        .map_err(|e| format!("cannot open the restored database: {e}"))?;
    finish(&store).await
}

/// SQLite: the copy checked, then moved into place in one rename (a crash
/// leaves no half-restored database where DATABASE_URL points).
async fn restore_sqlite(database_url: &str, args: &RestoreArgs) -> Result<(), String> {
    let target = sqlite_path(database_url)?;
    if args.finish {
        return if target.is_file() {
            Ok(())
        } else {
            Err(format!(
                "{} does not exist: nothing to finish",
                target.display()
            ))
        };
    }
    if target.exists() {
        return Err(format!(
            "{} already exists: restore into a new file (nothing was changed)",
            target.display()
        ));
    }
    // Not a SQLite file at all: said at once (opening it would be retried
    // until the pool gave up).
    let mut magic = [0u8; 16];
    let readable = std::fs::File::open(&args.from)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic));
    if readable.is_err() || &magic != b"SQLite format 3\0" {
        return Err(format!(
            "{} is not a Tenantry backup of a SQLite database (nothing was changed)",
            args.from.display()
        ));
    }
    let staging = target.with_extension("restoring");
    let _ = std::fs::remove_file(&staging);
    std::fs::copy(&args.from, &staging)
        .map_err(|e| format!("cannot copy {}: {e}", args.from.display()))?;
    let checked = async {
        let url = format!("sqlite://{}", staging.display());
        let store = Store::connect(&url, StoreOptions::default())
            .await
            .map_err(|e| format!("cannot open the backup: {e}"))?;
        let mut conn = store.read().await.map_err(e)?;
        let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| format!("{} is not a Tenantry backup: {e}", args.from.display()))?;
        let (tables,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'operation_runs'",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(e)?;
        drop(conn);
        store.close().await;
        if verdict != "ok" {
            return Err(format!("the backup is damaged: {verdict}"));
        }
        if tables != 1 {
            return Err(format!("{} is not a Tenantry backup", args.from.display()));
        }
        Ok(())
    }
    .await;
    if let Err(message) = checked {
        remove_sqlite_files(&staging);
        return Err(message);
    }
    // Only read since it was copied: its write-ahead log (if the last
    // connection left one) holds nothing; the file alone moves into place.
    for suffix in ["-wal", "-shm"] {
        let mut p = staging.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    std::fs::rename(&staging, &target).map_err(|e| {
        format!(
            "cannot move the restored database to {}: {e}",
            target.display()
        )
    })?;
    Ok(())
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The file a `sqlite:` URL names.
fn sqlite_path(url: &str) -> Result<PathBuf, String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or("not a sqlite: URL")?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return Err("restore needs a SQLite file, not an in-memory database".into());
    }
    Ok(PathBuf::from(path))
}

/// PostgreSQL: the target must be empty; the backup is checked by listing it
/// first, then loaded in one transaction (all or nothing).
async fn restore_postgres(database_url: &str, args: &RestoreArgs) -> Result<(), String> {
    let pg = PgConnection::parse(database_url)?;
    if args.finish {
        return Ok(());
    }
    let listed = pg
        .command("pg_restore")
        .arg("--list")
        .arg(&args.from)
        .output()
        .map_err(|e| format!("cannot run pg_restore (install PostgreSQL's client tools): {e}"))?;
    if !listed.status.success() {
        return Err(format!(
            "{} is not a backup pg_restore can read: {}",
            args.from.display(),
            String::from_utf8_lossy(&listed.stderr).trim()
        ));
    }
    // Another database's dump would load and then fail half-way through
    // the steps after it: refused before anything is loaded.
    let contents = String::from_utf8_lossy(&listed.stdout);
    if !contents
        .lines()
        .any(|l| l.contains(" TABLE ") && l.contains(" operation_runs "))
    {
        return Err(format!(
            "{} is not a Tenantry backup (it holds no table of runs; nothing was changed)",
            args.from.display()
        ));
    }
    {
        let probe = Store::connect(database_url, StoreOptions::default())
            .await
            .map_err(|e| format!("cannot open the database to restore into: {e}"))?;
        let mut conn = probe.read().await.map_err(e)?;
        let (tables,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'")
                .fetch_one(&mut *conn)
                .await
                .map_err(e)?;
        drop(conn);
        probe.close().await;
        if tables > 0 {
            return Err(
                "the database to restore into is not empty: create a new one (nothing was changed)"
                    .into(),
            );
        }
    }
    let out = pg
        .command("pg_restore")
        .args([
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
        ])
        .arg(&args.from)
        .output()
        .map_err(|e| format!("cannot run pg_restore: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_restore failed (nothing was loaded): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// After loading: end marks renumbered, pending migrations applied.
async fn finish(store: &Store) -> Result<(), String> {
    // `--finish` on a database that holds nothing of Tenantry's.
    let loaded: Result<(i64,), _> = sqlx::query_as("SELECT COUNT(*) FROM run_end_cursors")
        .fetch_one(&mut *store.read().await.map_err(e)?)
        .await;
    if loaded.is_err() {
        return Err("DATABASE_URL holds no Tenantry data: nothing to finish".into());
    }
    let renumbered = async {
        let mut tx = store.begin().await?;
        let n = domain::runs::end_marks::renumber(&mut tx, store.backend()).await?;
        tx.commit().await?;
        Ok::<u64, domain::AppError>(n)
    }
    .await
    .map_err(|e| {
        format!(
            "the data is loaded but its run end marks were not renumbered ({e}); run the same command again with --finish"
        )
    })?;
    let applied = store.migrate().await.map_err(|e| {
        format!("the data is loaded but migrating it failed ({e}); run the same command again with --finish")
    })?;
    let mut conn = store.read().await.map_err(e)?;
    let (tenants, runs): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM operation_runs)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(e)?;
    println!(
        "Restored: {tenants} tenants, {runs} runs ({renumbered} run end marks renumbered{}). Start it with the same secret key as the backed-up app.",
        if applied.is_empty() {
            String::new()
        } else {
            format!("; migrations applied: {applied:?}")
        }
    );
    Ok(())
}

/// A PostgreSQL URL as libpq's environment variables.
struct PgConnection {
    env: Vec<(&'static str, String)>,
}

impl PgConnection {
    fn parse(database_url: &str) -> Result<PgConnection, String> {
        let url = url::Url::parse(database_url).map_err(|_| "DATABASE_URL is not a URL")?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let mut env = Vec::new();
        if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
            env.push(("PGHOST", host.trim_matches(['[', ']']).to_string()));
        }
        if let Some(port) = url.port() {
            env.push(("PGPORT", port.to_string()));
        }
        if !url.username().is_empty() {
            env.push(("PGUSER", decode(url.username())));
        }
        if let Some(password) = url.password() {
            env.push(("PGPASSWORD", decode(password)));
        }
        let database = decode(url.path().trim_start_matches('/'));
        if database.is_empty() {
            return Err("DATABASE_URL names no database".into());
        }
        env.push(("PGDATABASE", database));
        for (key, value) in url.query_pairs() {
            let var = match &*key {
                "host" => "PGHOST",
                "port" => "PGPORT",
                "user" => "PGUSER",
                "password" => "PGPASSWORD",
                "sslmode" => "PGSSLMODE",
                "sslrootcert" => "PGSSLROOTCERT",
                "sslcert" => "PGSSLCERT",
                "sslkey" => "PGSSLKEY",
                "application_name" => "PGAPPNAME",
                _ => continue,
            };
            env.retain(|(k, _)| *k != var);
            env.push((var, value.into_owned()));
        }
        Ok(PgConnection { env })
    }

    /// `program` with this connection and nothing else of the caller's libpq
    /// settings; no standard input (a password prompt would hang).
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        for (k, _) in std::env::vars() {
            if k.starts_with("PG") {
                c.env_remove(k);
            }
        }
        c.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PGCONNECT_TIMEOUT", "10")
            .arg("--no-password")
            .stdin(Stdio::null());
        if program == "pg_restore" {
            // Loads into PGDATABASE (pg_restore needs it named).
            if let Some((_, db)) = self.env.iter().find(|(k, _)| *k == "PGDATABASE") {
                c.arg("--dbname").arg(db);
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(url: &str) -> Vec<(&'static str, String)> {
        PgConnection::parse(url).map(|p| p.env).unwrap_or_default()
    }

    #[test]
    fn a_url_becomes_libpq_variables() {
        assert_eq!(
            env_of("postgres://ops:p%40ss@db.example:6543/tenantry?sslmode=require&x=1"),
            vec![
                ("PGHOST", "db.example".to_string()),
                ("PGPORT", "6543".to_string()),
                ("PGUSER", "ops".to_string()),
                ("PGPASSWORD", "p@ss".to_string()),
                ("PGDATABASE", "tenantry".to_string()),
                ("PGSSLMODE", "require".to_string()),
            ]
        );
        assert_eq!(
            env_of("postgres://localhost/tenantry?host=/run/postgresql"),
            vec![
                ("PGDATABASE", "tenantry".to_string()),
                ("PGHOST", "/run/postgresql".to_string()),
            ]
        );
        assert!(PgConnection::parse("postgres://u@h/").is_err());
        assert!(PgConnection::parse("not a url").is_err());
    }

    #[test]
    fn a_sqlite_url_names_its_file() {
        assert_eq!(
            sqlite_path("sqlite://data/t.db?mode=rwc"),
            Ok(PathBuf::from("data/t.db"))
        );
        assert_eq!(sqlite_path("sqlite:t.db"), Ok(PathBuf::from("t.db")));
        assert!(sqlite_path("sqlite::memory:").is_err());
    }
}
