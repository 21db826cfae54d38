//! The ownership marker: every object destctl creates carries, at the end
//! of its `description`, `[destctl:NAME]` (base connections: `[destctl:NAME credentials=N]`),
//! where NAME is the Destination manifest's `metadata.name`. Objects without it are unmanaged
//! and never changed.

use std::fmt;

/// A parsed marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The Destination manifest's `metadata.name`.
    pub name: String,
    /// For destination base connections: the credentials version last pushed.
    pub credentials_version: Option<u32>,
}

impl Marker {
    /// A marker for the manifest `name`.
    pub fn new(name: &str) -> Marker {
        Marker {
            name: name.to_owned(),
            credentials_version: None,
        }
    }

    /// A base-connection marker recording the credentials version.
    pub fn with_credentials(name: &str, version: u32) -> Marker {
        Marker {
            name: name.to_owned(),
            credentials_version: Some(version),
        }
    }

    /// The description to send: the user's text, then the marker.
    pub fn describe(&self, user_description: Option<&str>) -> String {
        match user_description.map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => format!("{d} {self}"),
            None => self.to_string(),
        }
    }

    /// Finds the marker at the end of a description; also returns the user's text before it.
    pub fn parse(description: &str) -> Option<(Marker, Option<&str>)> {
        let trimmed = description.trim_end();
        let body = trimmed.strip_suffix(']')?;
        let start = body.rfind("[destctl:")?;
        let inner = &body[start + "[destctl:".len()..];
        let mut parts = inner.split(' ');
        let name = parts.next().filter(|n| !n.is_empty())?;
        let mut credentials_version = None;
        for part in parts {
            let v = part.strip_prefix("credentials=")?;
            credentials_version = Some(v.parse().ok()?);
        }
        let user = description[..start].trim_end();
        Some((
            Marker {
                name: name.to_owned(),
                credentials_version,
            },
            (!user.is_empty()).then_some(user),
        ))
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[destctl:{}", self.name)?;
        if let Some(v) = self.credentials_version {
            write!(f, " credentials={v}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = Marker::with_credentials("campaign-s3", 3);
        let d = m.describe(Some("Exports for Campaign"));
        assert_eq!(
            d,
            "Exports for Campaign [destctl:campaign-s3 credentials=3]"
        );
        assert_eq!(Marker::parse(&d), Some((m, Some("Exports for Campaign"))));
        let plain = Marker::new("x").describe(None);
        assert_eq!(Marker::parse(&plain), Some((Marker::new("x"), None)));
    }

    #[test]
    fn unmanaged() {
        assert_eq!(Marker::parse("made in the UI"), None);
        assert_eq!(Marker::parse("[destctl:]"), None);
        assert_eq!(Marker::parse("x [destctl:a bogus=1]"), None);
    }
}
