//! Loads the plugin the way the CloudCX host does: from its shared library, through the stable
//! ABI, with the version and layout checks first.

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cloudcx_salesforce_abi::abi_stable::sabi_trait::TD_Opaque;
use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_salesforce_abi::{
    load_plugin_module, HostApi_TO, LoadError, PluginBox, PluginError, LIBRARY_BASE_NAME,
};

use crate::host::{HostHandle, ShimHost};

/// A plugin loaded and started, with the host callbacks it was given.
pub struct LoadedPlugin {
    pub plugin: PluginBox,
    pub host: Arc<ShimHost>,
}

impl Drop for LoadedPlugin {
    /// The host shuts the plugin down before it exits, so the plugin joins its threads.
    fn drop(&mut self) {
        self.plugin.shutdown();
    }
}

#[derive(Debug)]
pub enum StartError {
    /// No library at the path, or none found beside the shim.
    NotFound(String),
    /// The library could not be loaded (wrong ABI version, not a plugin, ...).
    Load(LoadError),
    /// The plugin refused to start (bad configuration, unusable state directory, ...).
    Refused(PluginError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NotFound(msg) => f.write_str(msg),
            StartError::Load(e) => write!(f, "{e}"),
            StartError::Refused(e) => write!(f, "the plugin refused to start: {}", e.message),
        }
    }
}

impl std::error::Error for StartError {}

/// The file name of the plugin library on this platform.
pub fn library_file_name() -> String {
    format!("{DLL_PREFIX}{LIBRARY_BASE_NAME}{DLL_SUFFIX}")
}

/// The plugin library of the same build as the running executable: beside it, or in `deps/`
/// there (where cargo leaves it when the plugin was built as a dependency). When both exist, the
/// newer one is of this build.
pub fn default_plugin_path() -> Result<PathBuf, StartError> {
    let exe = std::env::current_exe()
        .map_err(|e| StartError::NotFound(format!("cannot locate the shim's executable: {e}")))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    plugin_beside(dir).ok_or_else(|| {
        StartError::NotFound(format!(
            "no plugin library {} beside {} or in its deps/ folder; build it with `cargo build \
             --workspace` or pass --plugin PATH",
            library_file_name(),
            dir.display()
        ))
    })
}

/// The newest plugin library in `dir` or `dir/deps`, if any.
pub fn plugin_beside(dir: &Path) -> Option<PathBuf> {
    let name = library_file_name();
    [dir.join(&name), dir.join("deps").join(&name)]
        .into_iter()
        .filter_map(|p| {
            let modified = p.metadata().and_then(|m| m.modified()).ok()?;
            Some((modified, p))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p)
}

/// Loads the library at `path` and starts the plugin with the host configuration.
pub fn start(path: &Path, config_json: &str) -> Result<LoadedPlugin, StartError> {
    if !path.is_file() {
        return Err(StartError::NotFound(format!(
            "plugin library {} does not exist",
            path.display()
        )));
    }
    // Absolute, so the dynamic linker does not go looking along its search path.
    let path = path
        .canonicalize()
        .map_err(|e| StartError::NotFound(format!("plugin library {}: {e}", path.display())))?;
    let module = load_plugin_module(&path).map_err(StartError::Load)?;
    let host = Arc::new(ShimHost::default());
    let callbacks = HostApi_TO::from_value(HostHandle(host.clone()), TD_Opaque);
    match module.load()(callbacks, config_json.into()) {
        RResult::ROk(plugin) => Ok(LoadedPlugin { plugin, host }),
        RResult::RErr(e) => Err(StartError::Refused(e)),
    }
}
