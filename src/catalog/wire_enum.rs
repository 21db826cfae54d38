//! [`wire_enum!`]: enums whose variants each stand for one string of the Flow Service API or
//! of a manifest, with that string written once.

/// Declares an enum whose variants each map to one wire string, written once after the
/// variant (`Daily = "DAILY"`). From that one list the macro emits the variant's
/// `#[serde(rename)]` (so serde, and the JSON Schemas derived from the serde attributes, use
/// the string), `as_str`, `parse`, `ALL` and `Display`.
///
/// The caller writes the derives: `Serialize` or `Deserialize` must be among them, since the
/// variants carry `#[serde(rename)]`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        #[allow(unreachable_pub, reason = "some wire enums are crate-private")]
        impl $name {
            /// Every variant, in declaration order.
            #[allow(dead_code, reason = "not every enum lists its variants")]
            pub const ALL: [$name; [$($wire),+].len()] = [$($name::$variant),+];

            /// The wire string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// The variant with this wire string (exact, case-sensitive).
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;

/// Asserts that serde writes and reads every variant of a [`wire_enum!`] as its `as_str`, and
/// that `parse` inverts `as_str`.
#[cfg(test)]
pub(crate) fn assert_serde_matches<T>(
    all: &[T],
    as_str: impl Fn(&T) -> &'static str,
    parse: impl Fn(&str) -> Option<T>,
) where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut seen = std::collections::BTreeSet::new();
    for v in all {
        let wire = as_str(v);
        assert!(seen.insert(wire), "{wire} is used twice");
        assert_eq!(
            serde_json::to_value(v).expect("serializes"),
            serde_json::json!(wire)
        );
        assert_eq!(
            &serde_json::from_value::<T>(serde_json::json!(wire)).expect("deserializes"),
            v
        );
        assert_eq!(parse(wire).as_ref(), Some(v));
    }
}
