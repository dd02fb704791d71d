//! goward integration tests (one test binary; see `support` for the harness).

mod e2e_go;
mod support;
