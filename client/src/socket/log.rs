//! The socket's console lines: the browser console in the page, stderr in
//! native tests.

/// Writes a line to the browser console (stderr in native tests).
pub(crate) fn log(line: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::log_1(&line.into());
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

/// Writes a warning to the browser console (stderr in native tests).
pub(crate) fn warn(line: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::warn_1(&line.into());
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}
