//! What the tests and benchmarks of the workspace share, so each set-up is
//! written once: the API app on a loopback port over a store and a runner
//! ([`App`], [`Rig`]), the emulators on `127.0.0.1` port 0 with the test
//! logins ([`emulators`]), the one connector factory with the waits tests
//! shorten ([`factory`]), the binary's processes ([`process`]), certificates
//! of the test's own ([`pki`]), the waits for what a test is not told
//! directly ([`wait`]), the event stream read ([`sse`]), the codecs' seeded property runs and corpus replays
//! ([`fuzz`]), and the one rule for a test that needs an outside tool
//! ([`tool`]).
//!
//! A dev-dependency only (`publish = false`). A crate the kit depends on may
//! use it in its integration tests (`tests/it`), which link the same library
//! the kit does; not in unit tests inside `src/`, where the crate under test
//! is a second copy whose types differ from the kit's.

pub mod app;
pub mod browser;
pub mod console;
pub mod emulators;
pub mod fuzz;
pub mod pki;
pub mod process;
pub mod rig;
pub mod sse;
pub mod tool;
pub mod wait;

use std::time::Duration;

use ucsync_core::ElementNetworks;
use ucsync_engine::ConnectorFactory;
pub use ucsync_engine::connectors::ConnectorOptions;

pub use app::{Answer, App};
pub use console::{Console, Page};
pub use rig::Rig;
pub use tool::{require, require_tool};

/// The connector options of tests: loopback elements only, a lost SAT
/// session opened again after 20 ms, directory pages small enough that
/// every read takes several.
pub fn options() -> ConnectorOptions {
    ConnectorOptions {
        backoff: Some(Duration::from_millis(20)),
        page_size: Some(200),
        ..ConnectorOptions::new(ElementNetworks::loopback())
    }
}

/// The factory of tests: [`options`].
pub fn factory() -> ConnectorFactory {
    ucsync_engine::connectors::factory(options())
}

/// The factory as the service makes it with its defaults and `sessions`
/// SAT sessions per CM, to loopback elements: what the benchmarks measure.
pub fn service_factory(sessions: usize) -> ConnectorFactory {
    ucsync_engine::connectors::factory(ConnectorOptions {
        sessions,
        ..ConnectorOptions::new(ElementNetworks::loopback())
    })
}

/// The factory with [`options`] changed, a shorter timeout say.
pub fn factory_with(change: impl FnOnce(&mut ConnectorOptions)) -> ConnectorFactory {
    let mut options = options();
    change(&mut options);
    ucsync_engine::connectors::factory(options)
}
