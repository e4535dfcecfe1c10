//! Bookish order service (in progress).
