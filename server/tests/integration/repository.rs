//! The repository tracks no file a run leaves behind: secret keys, databases,
//! review packs (a pre-commit check that runs in CI on every clone).

#[test]
fn no_keys_databases_or_packs_are_tracked() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z"])
        .output();
    let Ok(out) = out else {
        eprintln!("git is not available: nothing to check");
        return;
    };
    if !out.status.success() {
        eprintln!("not a git checkout: nothing to check");
        return;
    }
    let tracked = String::from_utf8_lossy(&out.stdout);
    let offenders: Vec<&str> = tracked
        .split('\0')
        .filter(|f| !f.is_empty())
        .filter(|f| {
            let name = f.rsplit('/').next().unwrap_or(f);
            name.ends_with(".key")
                || name.ends_with(".pem")
                || name.contains(".db")
                || name.ends_with(".sqlite")
                || name.ends_with(".sqlite3")
                || f.contains("review-packs/")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "files a run leaves behind are tracked; remove them with `git rm --cached`: {offenders:?}"
    );
}
