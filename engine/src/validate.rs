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
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
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
        if is_common_password(raw) {
            return Err(ValidationError::new(
                "password",
                "This password is one of the most common ones: choose another.",
            ));
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A random password nobody is told (accounts that sign in with single
    /// sign-on only); skips the rules, it is never typed.
    pub fn unusable(random: &str) -> Self {
        NewPassword(random.to_string())
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(**redacted**)")
    }
}

/// The 100,000 most common passwords (lowercased; `scripts/common-passwords.sh`
/// made the file from a registry package), shipped inside the binary.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Whether a password is on the common list, in any letter case or with
/// surrounding spaces (guessers try those variants first).
pub fn is_common_password(raw: &str) -> bool {
    static LIST: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
        std::sync::LazyLock::new(|| COMMON_PASSWORDS.lines().collect());
    LIST.contains(raw.trim().to_lowercase().as_str())
}

/// Whether a text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, subjects, emails: no control character at all.
    One,
    /// Descriptions: newlines and tabs, no other control character.
    Many,
}

/// The one text rule every input newtype uses: trimmed; between `min` and
/// `max` characters; no control characters (NUL included, which PostgreSQL
/// refuses to store) except line breaks and tabs where [`Lines::Many`] allows.
/// Refusals name the field, so SQLite and PostgreSQL answer the same input
/// the same way.
pub fn text(
    field: &'static str,
    what: &str,
    raw: &str,
    min: usize,
    max: usize,
    lines: Lines,
) -> Result<String, ValidationError> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min || (n == 0 && min > 0) {
        return Err(ValidationError::new(field, format!("Enter {what}.")));
    }
    if n > max {
        return Err(ValidationError::new(
            field,
            format!("Keep it under {max} characters."),
        ));
    }
    let forbidden =
        |c: char| c.is_control() && !(lines == Lines::Many && matches!(c, '\n' | '\r' | '\t'));
    if s.chars().any(forbidden) {
        return Err(ValidationError::new(
            field,
            match lines {
                Lines::One => "Use one line, without control characters.",
                Lines::Many => {
                    "Remove the control characters (only line breaks and tabs are kept)."
                }
            },
        ));
    }
    Ok(s.to_string())
}

/// True when `raw` has a character no text field accepts (a control
/// character other than a line break or tab). The router refuses such forms
/// before any server function sees them.
pub fn has_forbidden_control(raw: &str) -> bool {
    raw.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

fn bounded_name(
    field: &'static str,
    what: &str,
    raw: &str,
    max: usize,
) -> Result<String, ValidationError> {
    text(field, &format!("a {what}"), raw, 1, max, Lines::One)
}

/// Percent-encodes a value for a query string (paths keep their slashes).
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where to send the browser after signing in: a path in one of the app's
/// planes (`/admin…`, `/system…`) made of plain URL characters, that a
/// browser parses back to the same path on this site. Anything else (other
/// hosts, scheme-relative `//x`, `/\x`, tabs and newlines, dot segments,
/// encoded slashes, backslashes, dots or control characters) falls back to
/// `/admin`.
pub fn safe_next(raw: Option<&str>) -> String {
    raw.filter(|r| is_local_return_path(r))
        .unwrap_or("/admin")
        .to_string()
}

fn is_local_return_path(raw: &str) -> bool {
    if raw.len() > 2048 {
        return false;
    }
    let in_a_plane = ["/admin", "/system"].iter().any(|plane| {
        raw.strip_prefix(plane)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
    }) || raw
        .strip_prefix("/invite/")
        .is_some_and(|token| token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()));
    let plain = raw.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'/' | b'-'
                    | b'_'
                    | b'.'
                    | b'~'
                    | b'?'
                    | b'='
                    | b'&'
                    | b'%'
                    | b'+'
                    | b','
                    | b':'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'*'
                    | b';'
                    | b'#'
            )
    });
    if !in_a_plane || !plain {
        return false;
    }
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    if path.contains("//") || path.split('/').any(|seg| seg == "." || seg == "..") {
        return false;
    }
    // Every escape is two hex digits and never hides a separator, a dot or a
    // control character the browser might act on.
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) if b > 0x20 && b != 0x7f && !matches!(b, b'/' | b'\\' | b'.' | b'%') => {}
                _ => return false,
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
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
        assert!(TenantName::parse("nul\u{0}inside").is_err());
        assert!(TenantName::parse("two\nlines").is_err());
        assert_eq!(
            TenantName::parse("bad\u{0}name").map_err(|e| e.field),
            Err("display_name")
        );
    }

    #[test]
    fn sign_in_returns_only_to_our_own_pages() {
        for ok in [
            "/admin",
            "/admin/t/12",
            "/admin/operations?tab=active&tenant=3",
            "/system/ops/runs/7",
            "/admin/t/1/inventory?q=caf%C3%A9",
            "/invite/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(safe_next(Some(ok)), ok, "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example/admin",
            "/admin\n/x",
            "/admin\t",
            "/admin\u{0}",
            "/admin//evil.example",
            "/admin/../..//evil.example",
            "/admin/%2F%2Fevil.example",
            "/admin/%5Cevil",
            "/admin/%2e%2e/x",
            "/admin/%0d%0aSet-Cookie:x",
            "/admin/%zz",
            "/admin/%",
            "/sign-in",
            "/invite/x",
            "/invite/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/../x",
            "/adminx",
            " /admin",
            "/admin/caf\u{e9}",
            "/admin/<script>",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/admin");
        assert_eq!(
            safe_next(Some(&format!("/admin/{}", "a".repeat(3000)))),
            "/admin"
        );
    }

    #[test]
    fn one_text_rule_for_every_field() {
        let one = |raw: &str| text("subject", "a subject", raw, 3, 10, Lines::One);
        let many = |raw: &str| text("description", "what happened", raw, 1, 50, Lines::Many);
        assert_eq!(one("  Help  "), Ok("Help".into()));
        assert!(one("ab").is_err());
        assert!(one("x".repeat(11).as_str()).is_err());
        for bad in [
            "a\u{0}bc",
            "ab\ncd",
            "ab\tcd",
            "ab\u{1b}[31m",
            "ab\u{7f}c",
            "ab\u{85}c",
        ] {
            assert!(one(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            many("line one\nline two\ttab"),
            Ok("line one\nline two\ttab".into())
        );
        assert!(many("nul\u{0}").is_err());
        assert!(many("bell\u{7}").is_err());
        assert!(has_forbidden_control("a\u{0}"));
        assert!(!has_forbidden_control("a\r\n\tb"));
        assert!(Email::parse("ada\u{0}@example.com").is_err());
    }

    #[test]
    fn passwords_have_a_floor_and_a_ceiling() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("long enough pass").is_ok());
        assert!(NewPassword::parse(&"p".repeat(257)).is_err());
        // Long enough but among the most common: refused in any case, trimmed.
        for common in ["password1234", "Qwertyuiopasdfgh", " 1qaz2wsx3edc "] {
            let refused = NewPassword::parse(common).err();
            assert_eq!(
                refused.map(|e| e.message),
                Some("This password is one of the most common ones: choose another.".into()),
                "{common}"
            );
        }
        assert!(!is_common_password("correct horse battery staple"));
        assert_eq!(
            format!("{:?}", NewPassword::parse("long enough pass").expect("ok")),
            "NewPassword(**redacted**)"
        );
    }
}

/// A provider connection's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionName(String);

impl ConnectionName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        bounded_name("display_name", "connection name", raw, 120).map(ConnectionName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A GUID for a named form field (Entra tenant id, application (client) id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guid(String);

impl Guid {
    pub fn parse(field: &'static str, what: &str, raw: &str) -> Result<Self, ValidationError> {
        MicrosoftTenantId::parse(raw)
            .map(|g| Guid(g.0))
            .map_err(|_| {
                ValidationError::new(
                    field,
                    format!(
                        "Enter the {what} as a GUID, like 72f988bf-86f1-41af-91ab-2d7cd011db47."
                    ),
                )
            })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client secret as typed into a form: kept out of Debug output.
pub struct ClientSecretInput(String);

impl fmt::Debug for ClientSecretInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretInput(**redacted**)")
    }
}

impl ClientSecretInput {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValidationError::new(
                "client_secret",
                "Enter the client secret (its value, not its id).",
            ));
        }
        if s.len() > 1024 || s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "client_secret",
                "That does not look like a client secret value.",
            ));
        }
        Ok(ClientSecretInput(s.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// An optional expiry date (`YYYY-MM-DD`, as a date input sends it): the
/// secret is treated as expired from the end of that day (UTC), in ms.
pub fn parse_expiry_date(raw: &str, now_ms: i64) -> Result<Option<i64>, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let err = || {
        ValidationError::new(
            "expires_on",
            "Enter the expiry date as YYYY-MM-DD, or leave it empty.",
        )
    };
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(err());
    };
    let (y, m, d) = (
        y.parse::<i64>().map_err(|_| err())?,
        m.parse::<i64>().map_err(|_| err())?,
        d.parse::<i64>().map_err(|_| err())?,
    );
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(err()),
    };
    if !(1970..=9999).contains(&y) || d < 1 || d > days_in_month {
        return Err(err());
    }
    // Days since 1970-01-01 (civil-from-days inverse, Howard Hinnant's method).
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let end_of_day = (days + 1) * 86_400_000 - 1;
    if end_of_day <= now_ms {
        return Err(ValidationError::new(
            "expires_on",
            "That date has passed: a secret that has expired cannot be used. Create a new secret in Entra.",
        ));
    }
    Ok(Some(end_of_day))
}

#[cfg(test)]
mod connection_input_tests {
    use super::*;

    #[test]
    fn expiry_dates_parse_to_the_end_of_the_day() {
        assert_eq!(parse_expiry_date("", 0), Ok(None));
        assert_eq!(
            parse_expiry_date("1970-01-02", 0),
            Ok(Some(2 * 86_400_000 - 1))
        );
        assert_eq!(
            parse_expiry_date("2027-03-01", 0),
            Ok(Some(1_803_945_600_000 - 1))
        );
        assert!(parse_expiry_date("2027-02-30", 0).is_err());
        assert!(parse_expiry_date("tomorrow", 0).is_err());
        assert!(parse_expiry_date("2020-01-01", 1_700_000_000_000).is_err());
    }

    #[test]
    fn secrets_are_never_printed() {
        let s = ClientSecretInput::parse(" abc~123 ").map_err(|e| e.message);
        assert_eq!(s.as_ref().map(|s| s.expose()), Ok("abc~123"));
        assert!(!format!("{s:?}").contains("abc"));
        assert!(ClientSecretInput::parse("  ").is_err());
    }
}
