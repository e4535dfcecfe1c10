//! Bookish notification service (in progress).
