//! Text folding for search keys: case-, accent- and punctuation-insensitive.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::Problem;

/// A required text field: trimmed, not empty, at most `max_chars` characters.
pub fn required(field: &str, value: &str, max_chars: usize) -> Result<String, Problem> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Problem::invalid(field, format!("{field} cannot be empty.")));
    }
    if value.chars().count() > max_chars {
        return Err(Problem::invalid(field, format!("{field} is longer than {max_chars} characters.")));
    }
    Ok(value.to_owned())
}

/// Folds text to the form search keys are stored and queried in: accents stripped, lower
/// case, runs of anything but letters and digits turned into one space. "Cien Años" and
/// "cien  anos!" both fold to "cien anos".
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if pending_space && !folded.is_empty() {
                folded.push(' ');
            }
            pending_space = false;
            folded.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_case_accents_and_punctuation() {
        assert_eq!(fold("Gabriel García Márquez"), "gabriel garcia marquez");
        assert_eq!(fold("  The Great   Gatsby! "), "the great gatsby");
        assert_eq!(fold("Cien años de soledad"), "cien anos de soledad");
        assert_eq!(fold("1984"), "1984");
        assert_eq!(fold("Ursula K. Le Guin"), "ursula k le guin");
        assert_eq!(fold("#$%"), "");
    }

    #[test]
    fn folding_is_idempotent() {
        for s in ["Ça va", "ÉLAN vital", "a--b", "Straße"] {
            assert_eq!(fold(&fold(s)), fold(s));
        }
    }
}
