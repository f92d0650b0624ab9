//! Password generation, with the vocabulary of `AWS::SecretsManager::Secret`'s
//! GenerateSecretString. `/`, `@`, `"` and space are never used: RDS rejects them in
//! master passwords.

use std::fmt;

use rand::rngs::{StdRng, SysRng};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};

/// The length when PasswordLength is not given.
pub const DEFAULT_LENGTH: u32 = 32;
/// The shortest PasswordLength allowed.
pub const MIN_LENGTH: u32 = 8;
/// The longest PasswordLength allowed.
pub const MAX_LENGTH: u32 = 128;
/// Characters RDS refuses in a master password.
pub const NEVER_USED: &str = "/@\" ";

/// A secret string: its Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself: only for where it must go, never a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The generator's properties (PasswordLength, ExcludeCharacters, Exclude*,
/// RequireEachIncludedType), as a resource read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordOptions {
    /// `PasswordLength`: characters in the password.
    pub password_length: Option<u32>,
    /// `ExcludeCharacters`: characters never used.
    pub exclude_characters: Option<String>,
    /// `ExcludeLowercase`: no a-z.
    pub exclude_lowercase: Option<bool>,
    /// `ExcludeUppercase`: no A-Z.
    pub exclude_uppercase: Option<bool>,
    /// `ExcludeNumbers`: no 0-9.
    pub exclude_numbers: Option<bool>,
    /// `ExcludePunctuation`: no punctuation.
    pub exclude_punctuation: Option<bool>,
    /// `RequireEachIncludedType`: at least one of each type left in.
    pub require_each_included_type: Option<bool>,
}

/// Adds the generator's properties to a resource's properties struct, with
/// `password_options()`. Listed in the struct rather than flattened: serde loses a
/// flattened field's name in its errors, and every error must name its property.
/// The crate must be imported as `shared` (serde's `deserialize_with` takes a path string).
#[macro_export]
macro_rules! with_password_properties {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        $vis struct $name {
            $($body)*
            #[serde(default, deserialize_with = "::shared::properties::optional_number")]
            pub password_length: Option<u32>,
            #[serde(default)]
            pub exclude_characters: Option<String>,
            #[serde(default, deserialize_with = "::shared::properties::optional_boolean")]
            pub exclude_lowercase: Option<bool>,
            #[serde(default, deserialize_with = "::shared::properties::optional_boolean")]
            pub exclude_uppercase: Option<bool>,
            #[serde(default, deserialize_with = "::shared::properties::optional_boolean")]
            pub exclude_numbers: Option<bool>,
            #[serde(default, deserialize_with = "::shared::properties::optional_boolean")]
            pub exclude_punctuation: Option<bool>,
            #[serde(default, deserialize_with = "::shared::properties::optional_boolean")]
            pub require_each_included_type: Option<bool>,
        }

        impl $name {
            pub fn password_options(&self) -> $crate::password::PasswordOptions {
                $crate::password::PasswordOptions {
                    password_length: self.password_length,
                    exclude_characters: self.exclude_characters.clone(),
                    exclude_lowercase: self.exclude_lowercase,
                    exclude_uppercase: self.exclude_uppercase,
                    exclude_numbers: self.exclude_numbers,
                    exclude_punctuation: self.exclude_punctuation,
                    require_each_included_type: self.require_each_included_type,
                }
            }
        }
    };
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Options that cannot make a password, or no randomness.
pub enum PasswordError {
    #[error("PasswordLength must be between {MIN_LENGTH} and {MAX_LENGTH}, got {0}")]
    /// PasswordLength out of range.
    Length(u32),
    #[error(
        "no characters are left to build a password from: ExcludeCharacters and the Exclude* options remove them all"
    )]
    /// Every character excluded.
    NothingLeft,
    #[error("the operating system's random number generator failed: {0}")]
    /// The operating system gave no randomness.
    Random(String),
}

/// A checked set of options, ready to generate passwords.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    length: usize,
    /// Each included character type, after exclusions; none of them empty.
    classes: Vec<Vec<u8>>,
    require_each: bool,
}

impl PasswordPolicy {
    /// Checks the options.
    pub fn new(options: &PasswordOptions) -> Result<Self, PasswordError> {
        let length = options.password_length.unwrap_or(DEFAULT_LENGTH);
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            return Err(PasswordError::Length(length));
        }
        let excluded = options.exclude_characters.as_deref().unwrap_or_default();
        let usable = |c: &u8| {
            c.is_ascii_graphic()
                && !NEVER_USED.contains(*c as char)
                && !excluded.contains(*c as char)
        };
        let class = |include: Option<bool>, pick: fn(&u8) -> bool| -> Vec<u8> {
            if include == Some(true) {
                return Vec::new();
            }
            (0x21u8..=0x7e).filter(pick).filter(usable).collect()
        };
        let classes: Vec<Vec<u8>> = [
            class(options.exclude_lowercase, u8::is_ascii_lowercase),
            class(options.exclude_uppercase, u8::is_ascii_uppercase),
            class(options.exclude_numbers, u8::is_ascii_digit),
            class(options.exclude_punctuation, u8::is_ascii_punctuation),
        ]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect();
        if classes.is_empty() {
            return Err(PasswordError::NothingLeft);
        }
        Ok(Self {
            length: length as usize,
            classes,
            require_each: options.require_each_included_type.unwrap_or(true),
        })
    }

    /// A new password: characters drawn uniformly from a CSPRNG seeded by the OS; with
    /// RequireEachIncludedType, one of each type is placed at a random position.
    pub fn generate(&self) -> Result<Secret, PasswordError> {
        let mut rng =
            StdRng::try_from_rng(&mut SysRng).map_err(|e| PasswordError::Random(e.to_string()))?;
        let alphabet: Vec<u8> = self.classes.concat();
        let mut chars: Vec<u8> = Vec::with_capacity(self.length);
        if self.require_each {
            for class in &self.classes {
                chars.extend(class.choose(&mut rng));
            }
        }
        while chars.len() < self.length {
            chars.push(alphabet[rng.random_range(0..alphabet.len())]);
        }
        chars.shuffle(&mut rng);
        Ok(Secret(chars.into_iter().map(char::from).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> PasswordOptions {
        PasswordOptions::default()
    }

    #[test]
    fn default_password_is_32_printable_characters_rds_accepts_with_every_type() {
        let policy = PasswordPolicy::new(&options()).unwrap();
        for _ in 0..200 {
            let p = policy.generate().unwrap();
            let p = p.expose();
            assert_eq!(p.len(), 32);
            assert!(
                p.bytes()
                    .all(|c| c.is_ascii_graphic() && !NEVER_USED.contains(c as char))
            );
            assert!(p.bytes().any(|c| c.is_ascii_lowercase()));
            assert!(p.bytes().any(|c| c.is_ascii_uppercase()));
            assert!(p.bytes().any(|c| c.is_ascii_digit()));
            assert!(p.bytes().any(|c| c.is_ascii_punctuation()));
        }
    }

    #[test]
    fn exclusions_are_honoured() {
        let policy = PasswordPolicy::new(&PasswordOptions {
            password_length: Some(64),
            exclude_characters: Some("abc123".into()),
            exclude_punctuation: Some(true),
            exclude_uppercase: Some(true),
            ..options()
        })
        .unwrap();
        for _ in 0..100 {
            let p = policy.generate().unwrap();
            assert_eq!(p.expose().len(), 64);
            assert!(
                p.expose()
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
            assert!(!p.expose().contains(['a', 'b', 'c', '1', '2', '3']));
        }
    }

    #[test]
    fn every_allowed_character_appears_roughly_evenly() {
        let policy = PasswordPolicy::new(&PasswordOptions {
            password_length: Some(128),
            require_each_included_type: Some(false),
            ..options()
        })
        .unwrap();
        let mut counts = [0u32; 128];
        for _ in 0..400 {
            for c in policy.generate().unwrap().expose().bytes() {
                counts[c as usize] += 1;
            }
        }
        let used: Vec<u32> = counts.iter().copied().filter(|&n| n > 0).collect();
        // 94 graphic characters less / @ "
        assert_eq!(used.len(), 91);
        let mean = 400.0 * 128.0 / 91.0;
        assert!(
            used.iter()
                .all(|&n| (n as f64) > mean * 0.6 && (n as f64) < mean * 1.4)
        );
    }

    #[test]
    fn length_outside_8_to_128_is_refused_naming_the_property() {
        for bad in [7, 129, 0] {
            let err = PasswordPolicy::new(&PasswordOptions {
                password_length: Some(bad),
                ..options()
            })
            .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("PasswordLength must be between 8 and 128")
            );
        }
    }

    #[test]
    fn excluding_everything_is_refused() {
        let err = PasswordPolicy::new(&PasswordOptions {
            exclude_lowercase: Some(true),
            exclude_uppercase: Some(true),
            exclude_punctuation: Some(true),
            exclude_characters: Some("0123456789".into()),
            ..options()
        })
        .unwrap_err();
        assert_eq!(err, PasswordError::NothingLeft);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
    }
}
