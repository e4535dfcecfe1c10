//! Opaque pagination cursors.
//!
//! A cursor carries the sort position of the last item a page returned, bound to the
//! query it came from by a digest over (scope, position): a cursor that was edited, cut
//! short or taken from another query is refused instead of silently paging somewhere
//! else. The digest is not a secret: anyone can mint a cursor whose digest checks. So a
//! decoded position is untrusted input, and callers whose position becomes a key must
//! check that it is one their query could have made (`decode_admitted`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::Problem;

const DIGEST_BYTES: usize = 12;

pub fn encode(scope: &str, position: &str) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(position), URL_SAFE_NO_PAD.encode(digest(scope, position)))
}

/// Returns the position a cursor was made from, or a 400 problem naming the `cursor` field.
pub fn decode(scope: &str, cursor: &str) -> Result<String, Problem> {
    let (position, mac) = cursor.split_once('.').ok_or_else(invalid)?;
    let position = URL_SAFE_NO_PAD.decode(position).map_err(|_| invalid())?;
    let position = String::from_utf8(position).map_err(|_| invalid())?;
    let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
    if mac != digest(scope, &position) {
        return Err(invalid());
    }
    Ok(position)
}

/// `decode`, and the position must also be one the caller's query could have made
/// (`admits`, e.g. inside its key range and the key size limits): the same 400 problem
/// otherwise, for a forged cursor is as invalid as an edited one.
pub fn decode_admitted(scope: &str, cursor: &str, admits: impl FnOnce(&str) -> bool) -> Result<String, Problem> {
    let position = decode(scope, cursor)?;
    if admits(&position) {
        Ok(position)
    } else {
        Err(invalid())
    }
}

fn invalid() -> Problem {
    Problem::invalid(
        "cursor",
        "The cursor is not valid for this query. Use the nextCursor of the previous page unchanged, with the same filters.",
    )
}

fn digest(scope: &str, position: &str) -> [u8; DIGEST_BYTES] {
    let mut hasher = Sha256::new();
    hasher.update(b"bookish-cursor-v1\0");
    hasher.update(scope.as_bytes());
    hasher.update(b"\0");
    hasher.update(position.as_bytes());
    let full = hasher.finalize();
    let mut out = [0; DIGEST_BYTES];
    out.copy_from_slice(&full[..DIGEST_BYTES]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_its_scope() {
        let cursor = encode("books:all", "the great gatsby#b-1");
        assert_eq!(decode("books:all", &cursor).unwrap(), "the great gatsby#b-1");
    }

    #[test]
    fn refuses_another_scope() {
        let cursor = encode("books:author:george orwell", "1984#b-1");
        let err = decode("books:all", &cursor).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(err.field.as_deref(), Some("cursor"));
    }

    #[test]
    fn refuses_any_single_character_change() {
        let cursor = encode("books:all", "animal farm#b-2");
        for i in 0..cursor.len() {
            let mut bytes = cursor.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != cursor {
                assert!(decode("books:all", &tampered).is_err(), "accepted {tampered}");
            }
        }
    }

    #[test]
    fn refuses_a_well_minted_position_the_caller_does_not_admit() {
        // Anyone can mint a cursor: the digest is no secret.
        let forged = encode("books:all", "animal farm#b-2");
        let in_range = |position: &str| position.starts_with("the ");
        let err = decode_admitted("books:all", &forged, in_range).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(err.field.as_deref(), Some("cursor"));
        let real = encode("books:all", "the hobbit#b-3");
        assert_eq!(decode_admitted("books:all", &real, in_range).unwrap(), "the hobbit#b-3");
        assert!(decode_admitted("books:other", &real, in_range).is_err());
    }

    #[test]
    fn refuses_garbage_and_truncation() {
        let cursor = encode("books:all", "x#1");
        for bad in ["", ".", "abc", "%%%.%%%", &cursor[..cursor.len() - 1], &cursor[1..]] {
            assert!(decode("books:all", bad).is_err(), "accepted {bad:?}");
        }
    }
}
