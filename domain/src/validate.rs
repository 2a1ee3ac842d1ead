//! Input newtypes that parse and validate once; code past the boundary trusts them.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A lower-cased email address with one `@` and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().to_lowercase();
        let err = || ValidationError::new("email", "Enter an email address like name@example.com.");
        if s.is_empty() || s.len() > 254 || s.chars().any(char::is_whitespace) {
            return Err(err());
        }
        let (local, domain) = s.split_once('@').ok_or_else(err)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(err());
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: long enough to resist guessing, short enough to hash cheaply.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_LEN: usize = 12;
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let n = raw.chars().count();
        if n < Self::MIN_LEN {
            return Err(ValidationError::new(
                "password",
                format!("Use at least {} characters.", Self::MIN_LEN),
            ));
        }
        if n > Self::MAX_LEN {
            return Err(ValidationError::new(
                "password",
                format!("Use at most {} characters.", Self::MAX_LEN),
            ));
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(**redacted**)")
    }
}

fn bounded_name(
    field: &'static str,
    what: &str,
    raw: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, format!("Enter a {what}.")));
    }
    if s.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("Keep the {what} under {max} characters."),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            format!("The {what} cannot contain control characters."),
        ));
    }
    Ok(s.to_string())
}

/// A workspace's display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceName(String);

impl WorkspaceName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        bounded_name("name", "workspace name", raw, 80).map(WorkspaceName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A managed tenant's display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        bounded_name("display_name", "tenant name", raw, 120).map(TenantName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Microsoft Entra tenant id: a GUID, stored lower-case without braces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MicrosoftTenantId(String);

impl MicrosoftTenantId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_lowercase();
        let groups: Vec<&str> = s.split('-').collect();
        let shape_ok = groups.len() == 5
            && groups
                .iter()
                .zip([8usize, 4, 4, 4, 12])
                .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()));
        if !shape_ok {
            return Err(ValidationError::new(
                "microsoft_tenant_id",
                "Enter the Microsoft tenant id as a GUID, like 72f988bf-86f1-41af-91ab-2d7cd011db47.",
            ));
        }
        Ok(MicrosoftTenantId(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MicrosoftTenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").map(|e| e.0),
            Ok("ada@example.com".into())
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tenant_ids_must_be_guids() {
        let ok = MicrosoftTenantId::parse("{72F988BF-86F1-41AF-91AB-2D7CD011DB47}").expect("guid");
        assert_eq!(ok.as_str(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        for bad in [
            "",
            "contoso.onmicrosoft.com",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf86f141af91ab2d7cd011db47",
            "zzf988bf-86f1-41af-91ab-2d7cd011db47",
        ] {
            assert!(MicrosoftTenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            WorkspaceName::parse("  Acme MSP ").map(|n| n.0),
            Ok("Acme MSP".into())
        );
        assert!(WorkspaceName::parse("   ").is_err());
        assert!(WorkspaceName::parse(&"x".repeat(81)).is_err());
        assert!(TenantName::parse("bad\u{7}name").is_err());
    }

    #[test]
    fn passwords_have_a_floor_and_a_ceiling() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("long enough pass").is_ok());
        assert!(NewPassword::parse(&"p".repeat(257)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("long enough pass").expect("ok")),
            "NewPassword(**redacted**)"
        );
    }
}
