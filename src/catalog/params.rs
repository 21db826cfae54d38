//! Parameters of auth specs and target locations: name, required, secret, and the shape or
//! type a literal value must have.

/// One parameter of an auth spec or a target location.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// Parameter name as sent to the API.
    pub name: &'static str,
    /// Whether the API requires it.
    pub required: bool,
    /// Whether it is a credential: manifests must give it as a `${env:…}`/`${file:…}` reference.
    pub secret: bool,
    /// A check of the value's shape, with a description of what is allowed.
    pub pattern: Option<Pattern>,
    /// What kind of value a literal must be (text unless said otherwise).
    pub value_type: ValueType,
}

pub(super) const fn param(name: &'static str, required: bool, secret: bool) -> ParamSpec {
    ParamSpec {
        name,
        required,
        secret,
        pattern: None,
        value_type: ValueType::Text,
    }
}

/// The value type of a param written as a literal in a manifest (the API takes params as
/// JSON; manifests hold them as YAML scalars).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Any text.
    Text,
    /// A whole number from `min` to `max` inclusive.
    Integer {
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
}

impl ValueType {
    /// A TCP port: 1-65535.
    pub const PORT: ValueType = ValueType::Integer { min: 1, max: 65535 };

    /// Whether `value` (a YAML scalar as written) is of this type.
    pub fn matches(self, value: &str) -> bool {
        match self {
            ValueType::Text => true,
            ValueType::Integer { min, max } => {
                !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && value.parse::<u32>().is_ok_and(|n| (min..=max).contains(&n))
            }
        }
    }

    /// What the type allows, for error messages.
    pub fn describe(self) -> String {
        match self {
            ValueType::Text => "text".into(),
            ValueType::Integer { min, max } => format!("a whole number from {min} to {max}"),
        }
    }
}

/// A named shape check on a parameter value (the API's regexes use look-arounds, so they are
/// written out by hand).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// S3 bucket name: 3–63 characters, dot-separated labels of `[a-z0-9-]` that start and end
    /// with a letter or digit, not an IP address.
    S3BucketName,
    /// Azure Blob container: `^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$`.
    AzureContainer,
    /// AWS access key id: `^[A-Z2-7]{20}$`.
    S3AccessKey,
    /// AWS secret key: `^[A-Za-z0-9/+]{40}$`.
    S3SecretKey,
    /// Google Cloud Storage bucket name: like an S3 bucket name (plus `_`), not starting with
    /// `goog` and not containing `google` or a look-alike (`g00gle`, `go0gle`, …).
    GcsBucketName,
    /// A folder path of the Azure Blob card: `^[0-9a-zA-Z/!\-_.*'()]+$`.
    FolderPath,
    /// A folder path of the S3 and GCS cards: the characters of [`Pattern::FolderPath`], and
    /// the folder macros `%SEGMENT_NAME%` and `%SEGMENT_ID%`.
    FolderPathWithMacros,
}

impl Pattern {
    /// Whether `value` has this shape.
    pub fn matches(self, value: &str) -> bool {
        match self {
            Pattern::S3BucketName => is_s3_bucket_name(value),
            Pattern::AzureContainer => {
                let b = value.as_bytes();
                (3..=63).contains(&b.len())
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                    && b[0] != b'-'
                    && b[b.len() - 1] != b'-'
                    && !value.contains("--")
            }
            Pattern::S3AccessKey => {
                value.len() == 20
                    && value
                        .bytes()
                        .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
            }
            Pattern::S3SecretKey => {
                value.len() == 40
                    && value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'/' || c == b'+')
            }
            Pattern::GcsBucketName => is_gcs_bucket_name(value),
            Pattern::FolderPath => !value.is_empty() && value.bytes().all(is_path_byte),
            Pattern::FolderPathWithMacros => {
                let rest = value
                    .replace("%SEGMENT_NAME%", "")
                    .replace("%SEGMENT_ID%", "");
                rest.bytes().all(is_path_byte)
            }
        }
    }

    /// What the pattern allows, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Pattern::S3BucketName => {
                "3-63 characters of lower-case letters, digits, '-' and '.', each dot-separated label starting and ending with a letter or digit, not an IP address"
            }
            Pattern::AzureContainer => {
                "3-63 characters of lower-case letters, digits and '-', starting and ending with a letter or digit, no '--'"
            }
            Pattern::S3AccessKey => "20 characters of A-Z and 2-7",
            Pattern::S3SecretKey => "40 characters of A-Z, a-z, 0-9, '/' and '+'",
            Pattern::GcsBucketName => {
                "3-63 characters of lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit, not starting with 'goog' and not containing 'google' or a look-alike"
            }
            Pattern::FolderPath => "letters, digits and / ! - _ . * ' ( )",
            Pattern::FolderPathWithMacros => {
                "letters, digits and / ! - _ . * ' ( ), and the folder macros %SEGMENT_NAME% and %SEGMENT_ID%"
            }
        }
    }
}

fn is_path_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"/!-_.*'()".contains(&c)
}

fn is_gcs_bucket_name(v: &str) -> bool {
    let b = v.as_bytes();
    let lookalike = (0..b.len().saturating_sub(5)).any(|i| {
        b[i] == b'g'
            && matches!(b[i + 1], b'o' | b'0')
            && matches!(b[i + 2], b'o' | b'0')
            && &b[i + 3..i + 6] == b"gle"
    });
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !v.starts_with("goog")
        && !lookalike
}

fn is_s3_bucket_name(v: &str) -> bool {
    if !(3..=63).contains(&v.len()) {
        return false;
    }
    let ip_like = v.split('.').count() > 1 && v.split('.').all(|l| l.parse::<u32>().is_ok());
    !ip_like
        && v.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::AuthMethod;

    #[test]
    fn port_params_are_whole_numbers_in_range() {
        assert!(ValueType::PORT.matches("22"));
        assert!(ValueType::PORT.matches("65535"));
        assert!(!ValueType::PORT.matches("22x"));
        assert!(!ValueType::PORT.matches("0"));
        assert!(!ValueType::PORT.matches("65536"));
        assert!(!ValueType::PORT.matches("+22"));
        assert!(!ValueType::PORT.matches(""));
        assert!(ValueType::Text.matches("22x"));
        for auth in [AuthMethod::SftpWithSshKey, AuthMethod::SftpBasic] {
            assert_eq!(auth.param("port").unwrap().value_type, ValueType::PORT);
        }
    }

    #[test]
    fn patterns() {
        assert!(Pattern::S3BucketName.matches("acme-exports"));
        assert!(Pattern::S3BucketName.matches("a.b-c"));
        assert!(!Pattern::S3BucketName.matches("192.168.1.1"));
        assert!(!Pattern::S3BucketName.matches("Acme"));
        assert!(!Pattern::S3BucketName.matches("-acme"));
        assert!(!Pattern::S3BucketName.matches("ab"));
        assert!(Pattern::AzureContainer.matches("exports-1"));
        assert!(!Pattern::AzureContainer.matches("ex--ports"));
        assert!(Pattern::S3AccessKey.matches("AKIAIOSFODNN7EXAMPLE"));
        assert!(!Pattern::S3AccessKey.matches("AKIAIOSFODNN7EXAMPL1"));
        assert!(Pattern::GcsBucketName.matches("acme_exports-1"));
        assert!(!Pattern::GcsBucketName.matches("google-exports"));
        assert!(!Pattern::GcsBucketName.matches("my-g00gle-bucket"));
        assert!(!Pattern::GcsBucketName.matches("acme-go0gle"));
        assert!(!Pattern::GcsBucketName.matches("goog-x"));
        assert!(Pattern::FolderPath.matches("exports/daily"));
        assert!(!Pattern::FolderPath.matches("exports daily"));
        assert!(!Pattern::FolderPath.matches("%SEGMENT_ID%"));
        assert!(Pattern::FolderPathWithMacros.matches("exports/%SEGMENT_NAME%/"));
        assert!(!Pattern::FolderPathWithMacros.matches("exports/%SEGMENT%"));
    }
}
