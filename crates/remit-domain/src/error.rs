use std::fmt;

/// A value from outside that does not parse. Its message is safe to show to the person who typed it: it names the
/// field and, in backticks, what they typed (never another patient's data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    field: &'static str,
    message: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    /// The name of the field that was wrong, as the person sees it (`nhs_number`, `level`, …).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What is wrong, without the field's name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for InvalidValue {}

/// Shortens what a person typed before it is echoed back in an error message.
pub(crate) fn echo(input: &str) -> String {
    const MAX: usize = 40;
    let clean: String = input.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() > MAX {
        let cut: String = clean.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        clean
    }
}

/// Parses a lowercase identifier made of letters, digits and `-`, `.` or `_` (a username, a place code, a
/// competency id), starting with a letter or digit.
pub(crate) fn parse_slug(field: &'static str, input: &str, max: usize) -> Result<String, InvalidValue> {
    let s = input.trim();
    if s.is_empty() {
        return Err(InvalidValue::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(InvalidValue::new(
            field,
            format!("`{}` is longer than {max} characters", echo(s)),
        ));
    }
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'));
    if !first_ok || !rest_ok {
        return Err(InvalidValue::new(
            field,
            format!(
                "`{}` must be lowercase letters, digits, `-`, `.` or `_`, starting with a letter or digit",
                echo(s)
            ),
        ));
    }
    Ok(s.to_owned())
}

/// Parses free text a person gives as a name or a title: trimmed, not empty, no control characters.
pub(crate) fn parse_text(field: &'static str, input: &str, max: usize) -> Result<String, InvalidValue> {
    let s = input.trim();
    if s.is_empty() {
        return Err(InvalidValue::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(InvalidValue::new(field, format!("is longer than {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(InvalidValue::new(field, "must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// Declares a newtype over `String` with a private field, parsed by `parse`.
macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $parse:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, $crate::InvalidValue> {
                let f: fn(&str) -> Result<String, $crate::InvalidValue> = $parse;
                f(input).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_newtype;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(parse_slug("x", " ward-7 ", 10).unwrap(), "ward-7");
        assert!(parse_slug("x", "Ward-7", 10).is_err());
        assert!(parse_slug("x", "-ward", 10).is_err());
        assert!(parse_slug("x", "", 10).is_err());
        assert!(parse_slug("x", "abcdefghijk", 10).is_err());
        assert!(parse_slug("x", "a b", 10).is_err());
    }

    #[test]
    fn echo_is_bounded_and_clean() {
        assert_eq!(echo("a\nb"), "ab");
        assert_eq!(echo(&"x".repeat(100)).chars().count(), 41);
    }
}

/// What is wrong with a data file the employer edits (the pay table, the examination catalogue), with the line where
/// it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FileError {}

impl FileError {
    /// A TOML file that does not read, at the line the parser points to.
    pub(crate) fn toml(text: &str, e: &toml::de::Error) -> Self {
        Self {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_owned(),
        }
    }

    /// What is wrong with a file, at the line where `needle` first stands (where it does).
    pub(crate) fn near(text: &str, needle: &str, message: String) -> Self {
        Self {
            line: text.find(needle).map(|o| line_of(text, o)),
            message,
        }
    }
}

/// The line (from 1) of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}
