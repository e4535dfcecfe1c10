//! Bookish inventory service (in progress).
