//! nginx (Debian's package, `.ci/install`) in front of relays, running the
//! repository's own `deploy/nginx.conf`: its example upstreams and port are
//! replaced by the test's, every path it writes is in a temporary prefix,
//! and it runs in the foreground as a child process, stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{free_port, wait_for_port};

/// The configuration in the repository, as shipped.
const CONF: &str = include_str!("../../../deploy/nginx.conf");
/// Its example upstream relays and listen line, replaced by the test's.
const EXAMPLE_SERVER: &str = "server 127.0.0.1:3011 ";
const EXAMPLE_LISTEN: &str = "listen 8080;";

/// A running nginx: `addr` is where clients connect.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub addr: String,
}

/// `deploy/nginx.conf` with `relays` as its upstreams, listening on `addr`.
pub fn render(relays: &[String], addr: &str) -> String {
    assert!(
        CONF.contains(EXAMPLE_SERVER) && CONF.contains(EXAMPLE_LISTEN),
        "deploy/nginx.conf no longer has the example lines this test replaces"
    );
    let mut out = String::new();
    for line in CONF.lines() {
        let trimmed = line.trim_start();
        if let Some(settings) = trimmed.strip_prefix(EXAMPLE_SERVER) {
            // The first example server line becomes one line per relay.
            let indent = &line[..line.len() - trimmed.len()];
            for relay in relays {
                out += &format!("{indent}server {relay} {settings}\n");
            }
        } else if trimmed.starts_with("server 127.0.0.1:301") {
            continue;
        } else if trimmed == EXAMPLE_LISTEN {
            out += &line.replace(EXAMPLE_LISTEN, &format!("listen {addr};"));
            out.push('\n');
        } else {
            out += line;
            out.push('\n');
        }
    }
    out
}

impl Nginx {
    /// Starts nginx in front of `relays` (`host:port` each) on a free
    /// loopback port; returns once it listens.
    pub async fn start(relays: &[String]) -> Nginx {
        let addr = format!("127.0.0.1:{}", free_port());
        let dir =
            std::env::temp_dir().join(format!("nginx-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::create_dir_all(dir.join("temp")).unwrap();
        // Started as root (a container), nginx runs its workers as an
        // unprivileged user, which must reach the prefix.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, render(relays, &addr)).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(format!("{}/", dir.display()))
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start nginx ({e}): install it with .ci/install (Debian's nginx-light)"
                )
            });
        let nginx = Nginx { child, dir, addr };
        wait_for_port(&nginx.addr).await;
        nginx
    }

    /// nginx's access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default()
    }

    /// nginx's error log so far (upstream failures, retries).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT would wait for open sockets; SIGTERM stops at once and
        // takes the workers with it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
