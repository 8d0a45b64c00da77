//! The bundle Trunk serves: it only mounts the app.
#![forbid(unsafe_code)]

fn main() {
    client::start();
}
