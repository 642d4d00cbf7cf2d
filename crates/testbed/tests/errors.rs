//! Errors a user meets must say what to do: a missing Redis, a node that dies at startup.
//! (A process of its own: it changes environment variables.)

// Helpers outside #[test] fns panic on failure just like the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use slotline_testbed::{Error, Standalone, ENV_REDIS_SERVER};

#[test]
fn errors_are_descriptive() {
    // A node that cannot start: the error carries the tail of its log.
    let err = Standalone::builder()
        .local()
        .config("no-such-directive yes")
        .start()
        .unwrap_err();
    assert!(matches!(err, Error::Exited { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("redis-server at 127.0.0.1:"), "{text}");
    assert!(text.contains("no-such-directive"), "{text}");

    // No redis-server: say how to get one.
    std::env::set_var(ENV_REDIS_SERVER, "/nonexistent/redis-server");
    let err = Standalone::builder().local().start().unwrap_err();
    std::env::remove_var(ENV_REDIS_SERVER);
    let text = err.to_string();
    assert!(matches!(err, Error::RedisNotFound { .. }), "{err:?}");
    assert!(
        text.starts_with("redis-server not found: run `make deps`"),
        "{text}"
    );
    assert!(text.contains("SLOTLINE_REDIS_SERVER"), "{text}");
}
