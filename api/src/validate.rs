//! Input rules, checked at the edge before anything reaches the database.
//! Each returns the cleaned value or a BAD_USER_INPUT naming the field.

use crate::error::{ApiError, ApiResult};

pub const USERNAME_MAX: usize = 30;
pub const DISPLAY_NAME_MAX: usize = 50;
pub const BIO_MAX: usize = 300;
pub const POST_MAX: usize = 500;

/// 3-30 characters of ASCII letters, digits and underscore.
pub fn username(raw: &str) -> ApiResult<&str> {
    let name = raw.trim();
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !(3..=USERNAME_MAX).contains(&name.len()) || !ok_chars {
        return Err(ApiError::bad_input("`username` must be 3-30 characters of letters, digits and underscore"));
    }
    Ok(name)
}

/// A plausible address: one `@`, something before it, a dotted domain after,
/// no spaces, at most 254 characters. Real proof is a confirmation mail.
pub fn email(raw: &str) -> ApiResult<&str> {
    let email = raw.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !valid {
        return Err(ApiError::bad_input("`email` is not a valid email address"));
    }
    Ok(email)
}

/// 8-128 characters, taken as typed (spaces count).
pub fn password(raw: &str) -> ApiResult<&str> {
    if !(8..=128).contains(&raw.chars().count()) {
        return Err(ApiError::bad_input("`password` must be 8-128 characters"));
    }
    Ok(raw)
}

/// Whether `text` shows anything: a letter, mark, number, punctuation or
/// symbol (emoji are symbols). Spaces, controls, and format characters
/// (zero-width spaces and joiners, bidirectional overrides, the BOM) alone
/// show nothing, and trimming leaves most of them.
fn visible(text: &str) -> bool {
    use unicode_properties::{GeneralCategoryGroup as G, UnicodeGeneralCategory};
    text.chars().any(|c| !matches!(c.general_category_group(), G::Separator | G::Other))
}

/// 1-50 characters after trimming, at least one of them visible.
pub fn display_name(raw: &str) -> ApiResult<&str> {
    let name = raw.trim();
    if !visible(name) || name.chars().count() > DISPLAY_NAME_MAX {
        return Err(ApiError::bad_input("`displayName` must be 1-50 characters, at least one of them visible"));
    }
    Ok(name)
}

pub fn bio(raw: &str) -> ApiResult<&str> {
    let bio = raw.trim();
    if bio.chars().count() > BIO_MAX {
        return Err(ApiError::bad_input("`bio` must be at most 300 characters"));
    }
    Ok(bio)
}

/// 1-500 characters after trimming, at least one of them visible.
pub fn post_body(raw: &str) -> ApiResult<&str> {
    let body = raw.trim();
    if !visible(body) || body.chars().count() > POST_MAX {
        return Err(ApiError::bad_input(
            "`body` must be 1-500 characters after trimming, at least one of them visible",
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(username("john_1").is_ok());
        for bad in ["jo", "a".repeat(31).as_str(), "jöhn", "john doe", "john-doe"] {
            assert!(username(bad).is_err(), "{bad}");
        }
        assert!(email("john@example.com").is_ok());
        for bad in ["john", "@example.com", "john@example", "jo hn@example.com", "a@b@c.com"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(password("12345678").is_ok());
        assert!(password("1234567").is_err());
        assert!(post_body("  hi  ").unwrap() == "hi");
        assert!(post_body("   ").is_err());
        assert!(post_body(&"é".repeat(500)).is_ok());
        assert!(post_body(&"é".repeat(501)).is_err());
        // Nothing visible: zero-width space, joiner, BOM, a bidirectional
        // override, a control, an ideographic space.
        for blank in ["\u{200b}", "\u{202e}\u{200b}", "\u{200d}\u{feff}", "\u{7}", "\u{3000}\u{2060}"] {
            assert!(post_body(blank).is_err(), "{blank:?}");
            assert!(display_name(blank).is_err(), "{blank:?}");
        }
        // Something visible, with or without invisible company.
        for shown in ["a", "\u{202e}abc", "😀", "👩\u{200d}💻", "١", "!", "é", "\u{301}"] {
            assert!(post_body(shown).is_ok(), "{shown:?}");
            assert!(display_name(shown).is_ok(), "{shown:?}");
        }
    }
}
