//! Resource properties as CloudFormation sends them: every scalar a string.
//!
//! Use the `number` / `boolean` helpers with `#[serde(deserialize_with = ...)]` so that
//! `"32"` and `"true"` parse as well as `32` and `true`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::{Map, Value};

/// Properties CloudFormation itself adds to every request.
const RESERVED: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// A property that could not be read; the message names the property.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PropertyError {
    #[error("ResourceProperties must be an object of properties, got {0}")]
    /// The properties are not a JSON object.
    NotAnObject(&'static str),
    #[error("{0}")]
    /// A property is unknown, missing or has a bad value; the text names it.
    Invalid(String),
}

/// Checks beyond what parsing sees (ranges, names, how properties combine), run on Create's
/// and Update's properties. Keep here the checks that may tighten in a later release: an
/// Update that rolls a resource back to properties it was in skips them (see
/// `shared::Update::rollback`).
pub trait Validate {
    /// Says what is wrong, naming the property and what is allowed.
    fn validate(&self) -> Result<(), PropertyError>;
}

/// [`parse_strict`], then [`Validate::validate`].
pub fn parse_valid<P: DeserializeOwned + Validate>(
    properties: Option<Value>,
) -> Result<P, PropertyError> {
    let parsed: P = parse_strict(properties)?;
    parsed.validate()?;
    Ok(parsed)
}

/// Parses Create/Update properties. Give the struct `#[serde(deny_unknown_fields)]`: unknown
/// names (bar ServiceToken and ServiceTimeout) are then rejected. Every error names its property.
pub fn parse_strict<P: DeserializeOwned>(properties: Option<Value>) -> Result<P, PropertyError> {
    into_map(properties).and_then(deserialize)
}

/// Properties read leniently: a Delete's, and an Update's old ones. A stack must stay
/// deletable whatever they say, so this never fails.
#[derive(Debug)]
pub struct Lenient<P> {
    properties: Option<P>,
    dropped: Vec<String>,
    given: Map<String, Value>,
}

impl<P> Lenient<P> {
    /// What still parses; `None` when even a tolerant read fails (a required property
    /// missing, or not an object at all).
    pub fn get(&self) -> Option<&P> {
        self.properties.as_ref()
    }

    /// Whether `name` was given but is no longer known or no longer parses.
    pub fn dropped(&self, name: &str) -> bool {
        self.dropped.iter().any(|d| d == name)
    }

    /// A property as it was given, any scalar as text, whether or not it or its neighbours
    /// still parse: what a Delete or an Update's old properties must tell even when
    /// [`Lenient::get`] cannot (a required property missing since, say).
    pub fn text(&self, name: &str) -> Option<String> {
        match self.given.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// Reads Delete properties and Update's old properties with the same type as Create's: as
/// [`parse_tolerant`], never failing.
pub fn parse_lenient<P: DeserializeOwned>(properties: Option<Value>) -> Lenient<P> {
    let given = into_map(properties.clone()).unwrap_or_default();
    let (parsed, dropped) = tolerant(properties);
    if let Err(error) = &parsed {
        tracing::warn!(%error, "existing properties do not parse; read as none");
    }
    Lenient {
        properties: parsed.ok(),
        dropped,
        given,
    }
}

fn into_map(properties: Option<Value>) -> Result<Map<String, Value>, PropertyError> {
    let mut map = match properties {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(Value::Array(_)) => return Err(PropertyError::NotAnObject("a list")),
        Some(_) => return Err(PropertyError::NotAnObject("a scalar")),
    };
    for name in RESERVED {
        map.remove(name);
    }
    Ok(map)
}

/// Reads properties that passed the checks once and fail today's, for an Update that
/// returns a resource to them (CloudFormation's rollback): names no longer known are
/// dropped, and so are values that no longer parse, which then take their defaults. A
/// required property that is missing still fails.
pub fn parse_tolerant<P: DeserializeOwned>(properties: Option<Value>) -> Result<P, PropertyError> {
    tolerant(properties).0
}

/// The tolerant read, and the names it dropped.
fn tolerant<P: DeserializeOwned>(
    properties: Option<Value>,
) -> (Result<P, PropertyError>, Vec<String>) {
    let mut dropped = Vec::new();
    let mut map = match into_map(properties) {
        Ok(map) => map,
        Err(error) => return (Err(error), dropped),
    };
    loop {
        let error = match serde_path_to_error::deserialize(Value::Object(map.clone())) {
            Ok(parsed) => return (Ok(parsed), dropped),
            Err(error) => error,
        };
        let culprit = match error.path().iter().next() {
            Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
            // An unknown name is reported at the top, naming it in backquotes.
            _ => unknown_name(&error.inner().to_string()),
        };
        match culprit.and_then(|key| map.remove(&key).map(|_| key)) {
            Some(key) => {
                tracing::warn!(property = %key, "no longer valid; read as absent");
                dropped.push(key);
            }
            None => return (Err(property_error(error)), dropped),
        }
    }
}

fn unknown_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// What identifies the properties a resource was created or updated with: 32 hex digits of
/// SHA-256 over their JSON with sorted names, ServiceToken and ServiceTimeout left out.
pub fn digest(properties: Option<&Value>) -> String {
    use sha2::Digest;
    let map = into_map(properties.cloned()).unwrap_or_default();
    let mut text = String::new();
    canonical(&Value::Object(map), &mut text);
    sha2::Sha256::digest(text.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with every object's names sorted, whatever order the map keeps them in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut names: Vec<&String> = map.keys().collect();
            names.sort();
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                canonical(&map[name], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn deserialize<P: DeserializeOwned>(map: Map<String, Value>) -> Result<P, PropertyError> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(property_error)
}

fn property_error(error: serde_path_to_error::Error<serde_json::Error>) -> PropertyError {
    {
        let path = error.path().to_string();
        // serde speaks of fields; CloudFormation users write properties.
        let inner = error
            .into_inner()
            .to_string()
            .replace("unknown field", "unknown property")
            .replace("missing field", "missing required property")
            .replace("expected one of", "allowed properties are");
        if path == "." || path.is_empty() || inner.starts_with("unknown property") {
            PropertyError::Invalid(inner)
        } else {
            PropertyError::Invalid(format!("property {path}: {inner}"))
        }
    }
}

/// Shortens a user-supplied value before it goes into a message.
pub fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}… ({} characters)", value.chars().count())
    }
}

struct NumberVisitor<T>(std::marker::PhantomData<T>);

impl<T> Visitor<'_> for NumberVisitor<T>
where
    T: FromStr + TryFrom<u64> + TryFrom<i64>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number (as a number or a string such as \"32\")")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.trim().parse().map_err(|_| {
            E::custom(format!(
                "expected a whole number such as \"32\", got \"{}\"",
                shorten(v)
            ))
        })
    }
}

/// A whole number, from a JSON number or a string.
pub fn number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + TryFrom<u64> + TryFrom<i64>,
{
    deserializer.deserialize_any(NumberVisitor(std::marker::PhantomData))
}

/// An optional whole number (use with `#[serde(default)]`).
pub fn optional_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + TryFrom<u64> + TryFrom<i64>,
{
    number(deserializer).map(Some)
}

struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true or false")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(E::custom(format!(
                "expected \"true\" or \"false\", got \"{}\"",
                shorten(v)
            ))),
        }
    }
}

/// A boolean, from a JSON boolean or the strings "true" / "false" (any case).
pub fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    deserializer.deserialize_any(BoolVisitor)
}

/// An optional boolean (use with `#[serde(default)]`).
pub fn optional_boolean<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    boolean(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, Default)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Props {
        name: String,
        #[serde(default, deserialize_with = "optional_number")]
        length: Option<u16>,
        #[serde(default, deserialize_with = "optional_boolean")]
        flag: Option<bool>,
    }

    #[test]
    fn strings_parse_as_numbers_and_booleans() {
        let p: Props =
            parse_strict(Some(json!({"Name": "a", "Length": "24", "Flag": "true"}))).unwrap();
        assert_eq!((p.length, p.flag), (Some(24), Some(true)));
        let p: Props =
            parse_strict(Some(json!({"Name": "a", "Length": 24, "Flag": false}))).unwrap();
        assert_eq!((p.length, p.flag), (Some(24), Some(false)));
    }

    #[test]
    fn service_token_and_timeout_are_not_unknown() {
        let p: Props = parse_strict(Some(
            json!({"Name": "a", "ServiceToken": "arn", "ServiceTimeout": "60"}),
        ))
        .unwrap();
        assert_eq!(p.name, "a");
    }

    #[test]
    fn unknown_property_is_named_with_the_allowed_ones() {
        let err = parse_strict::<Props>(Some(json!({"Name": "a", "Lenght": "3"}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown property `Lenght`, allowed properties are `Name`, `Length`, `Flag`"
        );
    }

    #[test]
    fn bad_value_names_the_property_and_is_shortened() {
        let long = "x".repeat(10_000);
        let err = parse_strict::<Props>(Some(json!({"Name": "a", "Length": long}))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("property Length: expected a whole number"),
            "{text}"
        );
        assert!(text.len() < 200, "{text}");
        let err = parse_strict::<Props>(Some(json!({"Name": "a", "Flag": "yes"}))).unwrap_err();
        assert!(err.to_string().contains("property Flag"), "{err}");
        let err = parse_strict::<Props>(Some(json!({"Name": "a", "Length": "70000"}))).unwrap_err();
        assert!(err.to_string().contains("property Length"), "{err}");
    }

    #[test]
    fn missing_required_property_is_named() {
        let err = parse_strict::<Props>(Some(json!({}))).unwrap_err();
        assert!(err.to_string().contains("`Name`"), "{err}");
    }

    #[test]
    fn a_tolerant_read_drops_unknown_names_and_values_that_no_longer_parse() {
        let p: Props = parse_tolerant(Some(json!({
            "Name": "a", "Length": "too long", "Flag": "true", "Removed": 1, "Gone": "x"
        })))
        .unwrap();
        assert_eq!((p.name.as_str(), p.length, p.flag), ("a", None, Some(true)));
        let err = parse_tolerant::<Props>(Some(json!({"Length": "3"}))).unwrap_err();
        assert!(err.to_string().contains("`Name`"), "{err}");
    }

    #[test]
    fn the_digest_ignores_order_and_cloudformations_own_properties() {
        let a = digest(Some(
            &json!({"Name": "a", "Length": "3", "ServiceToken": "arn:1"}),
        ));
        let b = digest(Some(
            &json!({"Length": "3", "Name": "a", "ServiceToken": "arn:2"}),
        ));
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        assert_ne!(a, digest(Some(&json!({"Name": "a", "Length": "4"}))));
        assert_ne!(a, digest(Some(&json!({"Name": "a", "Length": 3}))));
        let nested = |v: Value| digest(Some(&json!({"Tags": [v]})));
        assert_eq!(
            nested(json!({"Key": "k", "Value": "v"})),
            nested(json!({"Value": "v", "Key": "k"}))
        );
    }

    #[test]
    fn lenient_parse_never_fails_and_says_what_it_dropped() {
        let p: Lenient<Props> =
            parse_lenient(Some(json!({"Name": "a", "Length": "nope", "Other": 1})));
        assert_eq!(
            p.get().map(|p| (p.name.as_str(), p.length)),
            Some(("a", None))
        );
        assert!(p.dropped("Length") && p.dropped("Other") && !p.dropped("Name"));
        let p: Lenient<Props> = parse_lenient(Some(json!({"Length": "3", "Flag": true})));
        assert!(p.get().is_none());
        // What was given still reads, as text.
        assert_eq!(p.text("Length").as_deref(), Some("3"));
        assert_eq!(p.text("Flag").as_deref(), Some("true"));
        assert_eq!(p.text("Name"), None);
        let p: Lenient<Props> = parse_lenient(Some(json!("not an object")));
        assert!(p.get().is_none());
    }
}
