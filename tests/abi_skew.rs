//! A host refuses a plugin built against another ABI version, naming both versions, before any
//! of the plugin's code runs.
//!
//! The skewed plugin is really built: `abi/src/lib.rs` compiled under package version 1.0.0
//! (this host speaks 0.1.x), with `tests/fixtures/abi-skew-plugin/lib.rs` exporting the root
//! module. Cargo runs offline from the crates this build already fetched.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cloudcx_salesforce_abi::{load_plugin_module, LoadError, ABI_VERSION};

const SKEWED_VERSION: &str = "1.0.0";

fn build_skewed_plugin() -> PathBuf {
    let root = common::repo_root();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let manifest = |dir: &Path, text: String| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("Cargo.toml"), text).unwrap();
    };
    manifest(
        &work.join("abi"),
        format!(
            "[package]\nname = \"cloudcx-salesforce-abi\"\nversion = \"{SKEWED_VERSION}\"\nedition = \"2021\"\n\
             [lib]\npath = {:?}\n\
             [dependencies]\nabi_stable = {{ version = \"0.11.3\", default-features = false }}\n",
            root.join("abi/src/lib.rs")
        ),
    );
    manifest(
        &work.join("plugin"),
        format!(
            "[package]\nname = \"abi-skew-plugin\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [lib]\nname = \"abi_skew_plugin\"\npath = {:?}\ncrate-type = [\"cdylib\"]\n\
             [dependencies]\ncloudcx-salesforce-abi = {{ path = \"../abi\" }}\n\
             abi_stable = {{ version = \"0.11.3\", default-features = false }}\n\
             [workspace]\n",
            root.join("tests/fixtures/abi-skew-plugin/lib.rs")
        ),
    );
    // The workspace's lock file pins the same dependency versions, so nothing is fetched.
    std::fs::copy(root.join("Cargo.lock"), work.join("plugin/Cargo.lock")).unwrap();
    let target = root.join("target/abi-skew");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(work.join("plugin/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the skewed plugin builds");
    let library = format!(
        "{}abi_skew_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    target.join("debug").join(library)
}

#[test]
fn a_plugin_of_another_abi_version_is_refused_by_name() {
    let skewed = build_skewed_plugin();

    match load_plugin_module(&skewed) {
        Err(LoadError::IncompatibleAbi { host, plugin }) => {
            assert_eq!(host, ABI_VERSION);
            assert_eq!(plugin, SKEWED_VERSION);
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("a plugin of ABI {SKEWED_VERSION} was loaded by a {ABI_VERSION} host"),
    }

    // The reference host says so and exits with a failure, without starting anything.
    let tmp = tempfile::tempdir().unwrap();
    let out = common::shim(
        tmp.path(),
        &[
            "--plugin",
            skewed.to_str().unwrap(),
            "status",
            "--tenant",
            "demo",
        ],
        &[],
    );
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the plugin was built against ABI version {SKEWED_VERSION}, but this host speaks ABI version {ABI_VERSION}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("must never be started"), "{stderr}");
}
