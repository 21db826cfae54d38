//! Filename templates: the macros a legacy batch export must and may hold, and the (all
//! optional) macros of the current cards.

use super::RuleViolation;

/// Macros a legacy `filenameTemplate` must hold.
pub const REQUIRED_FILENAME_MACROS: [&str; 2] = ["%DESTINATION_NAME%", "%SEGMENT_ID%"];
/// Every macro a legacy `filenameTemplate` may hold.
pub const KNOWN_FILENAME_MACROS: [&str; 5] = [
    "%DESTINATION_NAME%",
    "%SEGMENT_ID%",
    "%SEGMENT_NAME%",
    "%DATETIME(YYYYMMdd_HHmmss)%",
    "%TIMESTAMP%",
];

/// Checks a legacy `filenameTemplate`: both required macros present; every
/// `%MACRO%` written in upper case is a known one; at most one of the date macros. A `%…%` with
/// lower-case letters or spaces is custom text, which the docs allow.
pub fn check_filename_template(template: &str) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    for required in REQUIRED_FILENAME_MACROS {
        if !template.contains(required) {
            out.push(RuleViolation {
                field: "filenameTemplate",
                message: format!("filenameTemplate must contain {required}"),
            });
        }
    }
    let mut dates = 0;
    for token in filename_tokens(template) {
        let looks_like_macro = token
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || b"_()".contains(&c))
            || token.starts_with("DATETIME(");
        let full = format!("%{token}%");
        if KNOWN_FILENAME_MACROS.contains(&full.as_str()) {
            if full.starts_with("%DATETIME") || full == "%TIMESTAMP%" {
                dates += 1;
            }
        } else if looks_like_macro {
            out.push(RuleViolation {
                field: "filenameTemplate",
                message: format!(
                    "unknown macro {full}; known macros: {}",
                    KNOWN_FILENAME_MACROS.join(", ")
                ),
            });
        }
    }
    if dates > 1 {
        out.push(RuleViolation {
            field: "filenameTemplate",
            message: "use only one of %DATETIME(YYYYMMdd_HHmmss)% and %TIMESTAMP%".into(),
        });
    }
    out
}

/// Every macro a current card's `filenameTemplate` may hold; none is required.
/// `%DESTINATION_NAME%` is accepted beside `%DESTINATION%`: Adobe's V2 description lists the
/// latter while its own example uses the former.
pub const V2_FILENAME_MACROS: [&str; 10] = [
    "%DESTINATION%",
    "%DESTINATION_NAME%",
    "%SEGMENT_ID%",
    "%SEGMENT_NAME%",
    "%DESTINATION_INSTANCE_ID%",
    "%DESTINATION_INSTANCE_NAME%",
    "%ORGANIZATION_NAME%",
    "%SANDBOX_NAME%",
    "%DATETIME(YYYYMMdd_HHmmss)%",
    "%TIMESTAMP%",
];

/// Checks a current card's `filenameTemplate`: not empty, every upper-case `%MACRO%` a known
/// V2 one, at most one of the date macros; custom text is free.
pub fn check_v2_filename_template(template: &str) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    if template.trim().is_empty() {
        out.push(RuleViolation {
            field: "filenameTemplate",
            message: "filenameTemplate must not be empty".into(),
        });
    }
    let mut dates = 0;
    for token in filename_tokens(template) {
        let full = format!("%{token}%");
        if V2_FILENAME_MACROS.contains(&full.as_str()) {
            if full.starts_with("%DATETIME") || full == "%TIMESTAMP%" {
                dates += 1;
            }
        } else if looks_like_macro(token) {
            out.push(RuleViolation {
                field: "filenameTemplate",
                message: format!(
                    "unknown macro {full}; known macros: {}",
                    V2_FILENAME_MACROS.join(", ")
                ),
            });
        }
    }
    if dates > 1 {
        out.push(RuleViolation {
            field: "filenameTemplate",
            message: "use only one of %DATETIME(YYYYMMdd_HHmmss)% and %TIMESTAMP%".into(),
        });
    }
    out
}

fn looks_like_macro(token: &str) -> bool {
    token
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || b"_()".contains(&c))
        || token.starts_with("DATETIME(")
}

fn filename_tokens(template: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => {
                tokens.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_filename_rules() {
        assert!(check_v2_filename_template("%SEGMENT_NAME%").is_empty());
        assert!(check_v2_filename_template("%DESTINATION%_%SANDBOX_NAME%_%TIMESTAMP%").is_empty());
        assert!(check_v2_filename_template("%DESTINATION_NAME%_%custom text%").is_empty());
        assert_eq!(check_v2_filename_template("%FOO%").len(), 1);
        assert_eq!(check_v2_filename_template("").len(), 1);
        assert_eq!(
            check_v2_filename_template("%TIMESTAMP%%DATETIME(YYYYMMdd_HHmmss)%").len(),
            1
        );
    }

    #[test]
    fn filename_rules() {
        assert!(
            check_filename_template("%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%")
                .is_empty()
        );
        assert!(
            check_filename_template("%DESTINATION_NAME%_%SEGMENT_ID%_%this is custom text%")
                .is_empty()
        );
        assert_eq!(check_filename_template("%SEGMENT_ID%").len(), 1);
        assert_eq!(
            check_filename_template("%DESTINATION_NAME%_%SEGMENT_ID%_%FOO%").len(),
            1
        );
        assert_eq!(
            check_filename_template(
                "%DESTINATION_NAME%_%SEGMENT_ID%_%TIMESTAMP%_%DATETIME(YYYYMMdd_HHmmss)%"
            )
            .len(),
            1
        );
    }
}
