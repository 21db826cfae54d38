//! The ownership marker: every object destctl creates carries, at the end
//! of its `description`, `[destctl:NAME]` (base connections: `[destctl:NAME credentials=N]`),
//! where NAME is the Destination manifest's `metadata.name`, optionally followed by
//! `fp=…`, the [`Fingerprint`] of what destctl last applied to the object (docs/drift.md).
//! Objects without a marker are unmanaged and never changed.

use std::collections::BTreeMap;
use std::fmt;

/// One field group a [`Fingerprint`] covers, written as one letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FpField {
    /// The flow's `name` (the Destination's `displayName`).
    Name,
    /// The user's text of the flow's description (the marker excluded).
    Description,
    /// The flow's state (enabled or disabled).
    State,
    /// The set of activated audience ids.
    Audiences,
    /// Each audience's managed settings (schedule, filename template, export mode, name,
    /// description), by id.
    AudienceSettings,
    /// The exported attribute paths.
    Attributes,
    /// The mandatory attributes.
    Mandatory,
    /// The deduplication keys.
    Dedup,
    /// A target connection's managed params (the file location).
    Location,
    /// A base connection's auth method and non-secret params (never a secret or its hash).
    Account,
}

impl FpField {
    /// Every field, in the order they are written.
    pub const ALL: [FpField; 10] = [
        FpField::Name,
        FpField::Description,
        FpField::State,
        FpField::Audiences,
        FpField::AudienceSettings,
        FpField::Attributes,
        FpField::Mandatory,
        FpField::Dedup,
        FpField::Location,
        FpField::Account,
    ];

    /// Its letter in the marker.
    pub fn letter(self) -> char {
        match self {
            FpField::Name => 'n',
            FpField::Description => 'd',
            FpField::State => 's',
            FpField::Audiences => 'a',
            FpField::AudienceSettings => 't',
            FpField::Attributes => 'x',
            FpField::Mandatory => 'm',
            FpField::Dedup => 'k',
            FpField::Location => 'l',
            FpField::Account => 'c',
        }
    }

    fn from_letter(c: char) -> Option<FpField> {
        FpField::ALL.into_iter().find(|f| f.letter() == c)
    }
}

/// Largest digest value: digests are 24 bits, six hex digits.
pub const DIGEST_MAX: u32 = (1 << 24) - 1;

/// What destctl last applied to an object: one 24-bit digest per field group, of the group's
/// canonical JSON (computed by the planner). Written `fp=n1a2b3c.d4e5f60`: per field, its letter
/// and six hex digits, `.`-separated, in [`FpField::ALL`] order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint(BTreeMap<FpField, u32>);

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Fingerprint {
        Fingerprint::default()
    }

    /// Records the digest of `canonical` (a field group's canonical JSON) for `field`.
    pub fn record(&mut self, field: FpField, canonical: &str) {
        self.0.insert(field, digest(canonical));
    }

    /// Sets a raw digest (masked to 24 bits).
    pub fn set(&mut self, field: FpField, value: u32) {
        self.0.insert(field, value & DIGEST_MAX);
    }

    /// The digest recorded for `field`.
    pub fn get(&self, field: FpField) -> Option<u32> {
        self.0.get(&field).copied()
    }

    /// Whether no field is recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields recorded, with their digests.
    pub fn fields(&self) -> impl Iterator<Item = (FpField, u32)> + '_ {
        self.0.iter().map(|(f, v)| (*f, *v))
    }

    fn parse(s: &str) -> Option<Fingerprint> {
        let mut out = BTreeMap::new();
        let mut last = None;
        for token in s.split('.') {
            let mut chars = token.chars();
            let field = FpField::from_letter(chars.next()?)?;
            let hex = chars.as_str();
            if hex.len() != 6 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return None;
            }
            // One canonical spelling: fields in order, each once.
            if last.is_some_and(|l| l >= field) {
                return None;
            }
            last = Some(field);
            out.insert(field, u32::from_str_radix(hex, 16).ok()?);
        }
        Some(Fingerprint(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{}{:06x}", field.letter(), v)?;
        }
        Ok(())
    }
}

/// The 24-bit digest of a canonical string: FNV-1a (64 bits), folded. Stable across platforms
/// and releases (never `std`'s hasher); not a cryptographic hash, and never given a secret.
pub fn digest(canonical: &str) -> u32 {
    let mut d = Digester::new();
    d.update(canonical.as_bytes());
    d.finish()
}

/// [`digest`] fed piece by piece: the same value for the same bytes, however they are split,
/// so a field group's canonical text can be written into it without being built first.
#[derive(Clone, Copy, Debug)]
pub struct Digester(u64);

impl Default for Digester {
    fn default() -> Digester {
        Digester::new()
    }
}

impl Digester {
    /// The digest of nothing yet.
    pub fn new() -> Digester {
        Digester(0xcbf2_9ce4_8422_2325)
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    /// The 24-bit digest of everything fed.
    pub fn finish(&self) -> u32 {
        let h = self.0;
        ((h ^ (h >> 24) ^ (h >> 48)) as u32) & DIGEST_MAX
    }
}

impl std::io::Write for Digester {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A parsed marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The Destination manifest's `metadata.name`.
    pub name: String,
    /// For destination base connections: the credentials version last pushed.
    pub credentials_version: Option<u32>,
    /// What destctl last applied to the object; `None` in markers written before fingerprints
    /// existed (their differences are reported with origin unknown).
    pub fingerprint: Option<Fingerprint>,
}

impl Marker {
    /// A marker for the manifest `name`.
    pub fn new(name: &str) -> Marker {
        Marker {
            name: name.to_owned(),
            credentials_version: None,
            fingerprint: None,
        }
    }

    /// A base-connection marker recording the credentials version.
    pub fn with_credentials(name: &str, version: u32) -> Marker {
        Marker {
            name: name.to_owned(),
            credentials_version: Some(version),
            fingerprint: None,
        }
    }

    /// The same marker recording `fingerprint` (an empty one is not written).
    pub fn fingerprinted(mut self, fingerprint: Fingerprint) -> Marker {
        self.fingerprint = (!fingerprint.is_empty()).then_some(fingerprint);
        self
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
        let mut fingerprint = None;
        for part in parts {
            if let Some(v) = part.strip_prefix("credentials=") {
                if credentials_version.is_some() || fingerprint.is_some() {
                    return None;
                }
                credentials_version = Some(v.parse().ok()?);
            } else if let Some(v) = part.strip_prefix("fp=") {
                if fingerprint.is_some() {
                    return None;
                }
                fingerprint = Some(Fingerprint::parse(v)?);
            } else {
                return None;
            }
        }
        let user = description[..start].trim_end();
        Some((
            Marker {
                name: name.to_owned(),
                credentials_version,
                fingerprint,
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
        if let Some(fp) = self.fingerprint.as_ref().filter(|fp| !fp.is_empty()) {
            write!(f, " fp={fp}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn fingerprint_format() {
        let mut fp = Fingerprint::new();
        fp.set(FpField::State, 0xabc);
        fp.set(FpField::Name, 0x1234567);
        let m = Marker::with_credentials("a", 2).fingerprinted(fp);
        assert_eq!(
            m.to_string(),
            "[destctl:a credentials=2 fp=n234567.s000abc]"
        );
        assert_eq!(Marker::parse(&m.to_string()).map(|p| p.0), Some(m));
    }

    #[test]
    fn digests_are_stable() {
        // Changing the digest would report every live object as changed outside destctl.
        assert_eq!(format!("{:06x}", digest("\"enabled\"")), "688644");
        assert_eq!(format!("{:06x}", digest("")), "be0c53");
        assert_ne!(digest("\"enabled\""), digest("\"disabled\""));
        assert!(digest("anything at all") <= DIGEST_MAX);
    }

    #[test]
    fn the_longest_markers_fit_the_budget() {
        let name = "a".repeat(63);
        let mut flow = Fingerprint::new();
        for f in FpField::ALL.into_iter().take(8) {
            flow.set(f, DIGEST_MAX);
        }
        assert_eq!(
            Marker::new(&name).fingerprinted(flow).to_string().len(),
            140
        );
        let mut account = Fingerprint::new();
        account.set(FpField::Account, DIGEST_MAX);
        let m = Marker::with_credentials(&name, u32::MAX).fingerprinted(account);
        assert!(m.to_string().len() <= 160, "{m}");
    }

    #[test]
    fn unmanaged() {
        assert_eq!(Marker::parse("made in the UI"), None);
        assert_eq!(Marker::parse("[destctl:]"), None);
        assert_eq!(Marker::parse("x [destctl:a bogus=1]"), None);
        assert_eq!(Marker::parse("[destctl:a fp=n12345]"), None);
        assert_eq!(Marker::parse("[destctl:a fp=s000000.n000000]"), None);
        assert_eq!(Marker::parse("[destctl:a fp=q000000]"), None);
        assert_eq!(Marker::parse("[destctl:a fp=n00000G]"), None);
        assert_eq!(Marker::parse("[destctl:a fp=n000000 fp=s000000]"), None);
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9-]{0,20}[a-z0-9]"
    }

    fn fingerprint() -> impl Strategy<Value = Option<Fingerprint>> {
        proptest::option::of(proptest::collection::btree_map(
            (0..FpField::ALL.len()).prop_map(|i| FpField::ALL[i]),
            0..=DIGEST_MAX,
            1..=FpField::ALL.len(),
        ))
        .prop_map(|m| m.map(Fingerprint))
    }

    proptest! {
        #[test]
        fn parse_inverts_format(
            name in name(),
            credentials in proptest::option::of(any::<u32>()),
            fingerprint in fingerprint(),
            user in proptest::option::of("[A-Za-z0-9 ,.()-]{0,30}"),
        ) {
            let m = Marker { name, credentials_version: credentials, fingerprint };
            let text = m.to_string();
            prop_assert_eq!(Marker::parse(&text), Some((m.clone(), None)));
            let described = m.describe(user.as_deref());
            let (parsed, text) = Marker::parse(&described).expect("a marker");
            prop_assert_eq!(parsed, m);
            prop_assert_eq!(text, user.as_deref().map(str::trim).filter(|u| !u.is_empty()));
        }
    }
}
