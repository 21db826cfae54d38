//! File options of the current cards' target connections: file type, compression and the
//! CSV options, each an enum of the values the cards' target specs allow.

use super::wire_enum::wire_enum;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

wire_enum! {
    /// The exported file's format (`params.fileType` of an audience export).
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum FileType {
        /// Comma-separated (or other delimiter) values.
        Csv = "CSV",
        /// JSON lines.
        Json = "JSON",
        /// Apache Parquet.
        Parquet = "PARQUET",
    }
}

wire_enum! {
    /// The exported file's compression (`params.compression`).
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum Compression {
        /// Not compressed.
        None = "NONE",
        /// gzip.
        Gzip = "GZIP",
    }
}

wire_enum! {
    /// `csvOptions.delimiter`.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum Delimiter {
        /// `,` (the default).
        Comma = ",",
        /// A tab.
        Tab = "\t",
        /// `|`.
        Pipe = "|",
        /// `;`.
        Semicolon = ";",
        /// `:`.
        Colon = ":",
    }
}

wire_enum! {
    /// `csvOptions.quote`.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum Quote {
        /// `"`.
        DoubleQuote = "\"",
        /// The empty string: the NUL character, i.e. no quoting.
        Nul = "",
    }
}

wire_enum! {
    /// `csvOptions.escape`.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum Escape {
        /// A backslash.
        Backslash = "\\",
        /// `'`.
        SingleQuote = "'",
    }
}

wire_enum! {
    /// What `csvOptions.nullValue` / `emptyValue` write for a null or empty value.
    #[derive(
        Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
    )]
    pub enum ValueOutput {
        /// The text `null`.
        Null = "null",
        /// Two double quotes.
        QuotedEmpty = "\"\"",
        /// Nothing.
        Empty = "",
    }
}

/// The CSV options the current cards support; an option not given is not sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CsvOptions {
    /// Column delimiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
    /// Quote character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// Escape character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape: Option<Escape>,
    /// Output of a null value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_value: Option<ValueOutput>,
    /// Output of an empty value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_value: Option<ValueOutput>,
}

/// The keys of `csvOptions`, with the values each allows.
pub const CSV_OPTION_KEYS: [(&str, &[&str]); 5] = [
    ("delimiter", &[",", "\t", "|", ";", ":"]),
    ("quote", &["\"", ""]),
    ("escape", &["\\", "'"]),
    ("nullValue", &["null", "\"\"", ""]),
    ("emptyValue", &["null", "\"\"", ""]),
];

/// The `encryptionAlgo` values of the cards' PGP encryption spec.
pub const ENCRYPTION_ALGOS: [&str; 2] = ["PGPGPG", "NONE"];
/// The `encryptionAlgo` destctl sends.
pub const PGP_ENCRYPTION_ALGO: &str = "PGPGPG";
/// The `specName` destctl sends in `encryptionSpecs`.
pub const ENCRYPTION_SPEC_NAME: &str = "Encryption spec";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::wire_enum::assert_serde_matches;

    #[test]
    fn csv_option_values_match_their_enums() {
        assert_serde_matches(&FileType::ALL, |v| v.as_str(), FileType::parse);
        assert_serde_matches(&Compression::ALL, |v| v.as_str(), Compression::parse);
        assert_serde_matches(&Delimiter::ALL, |v| v.as_str(), Delimiter::parse);
        assert_serde_matches(&Quote::ALL, |v| v.as_str(), Quote::parse);
        assert_serde_matches(&Escape::ALL, |v| v.as_str(), Escape::parse);
        assert_serde_matches(&ValueOutput::ALL, |v| v.as_str(), ValueOutput::parse);
        let listed = |k: &str| {
            CSV_OPTION_KEYS
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_vec())
                .unwrap()
        };
        assert_eq!(
            listed("delimiter"),
            Delimiter::ALL.map(|d| d.as_str()).to_vec()
        );
        assert_eq!(listed("quote"), Quote::ALL.map(|d| d.as_str()).to_vec());
        assert_eq!(listed("escape"), Escape::ALL.map(|d| d.as_str()).to_vec());
        assert_eq!(
            listed("nullValue"),
            ValueOutput::ALL.map(|d| d.as_str()).to_vec()
        );
        let o: CsvOptions = serde_json::from_str(r#"{"delimiter":"\t","nullValue":""}"#).unwrap();
        assert_eq!(o.delimiter, Some(Delimiter::Tab));
        assert_eq!(o.null_value, Some(ValueOutput::Empty));
    }
}
