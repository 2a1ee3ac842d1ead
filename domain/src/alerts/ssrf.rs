//! No server-side request forgery through webhooks. A URL is refused unless
//! it is http(s) without credentials; the name is resolved once at send time
//! and every address it gives must be public (or inside a network the
//! server's configuration allows, `--webhook-allow-network`); the connection
//! is then pinned to that address, so a name that changes its answer
//! between the check and the connect cannot reach inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Networks the server's operator allows webhooks to reach although they
/// are not public (e.g. `10.20.0.0/16` for an in-house receiver).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookNetworks {
    allowed: Vec<(IpAddr, u8)>,
}

impl WebhookNetworks {
    /// Parses `a.b.c.d/n` or `x::y/n` entries (a bare address is /32 or /128).
    pub fn parse(list: &[String]) -> Result<WebhookNetworks, String> {
        let mut allowed = Vec::new();
        for raw in list
            .iter()
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (addr, bits) = match raw.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (raw, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("{raw:?} is not an address or network"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{raw:?}: bad prefix length"))?,
                None => max,
            };
            allowed.push((ip, bits));
        }
        Ok(WebhookNetworks { allowed })
    }

    fn allows(&self, ip: IpAddr) -> bool {
        self.allowed
            .iter()
            .any(|(net, bits)| in_network(ip, *net, *bits))
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Why an address may not be reached (None: public).
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_reason(v4);
            }
            let seg = v6.segments();
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata address")
            } else if v6.is_loopback() || v6.is_unspecified() {
                Some("a loopback address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("a private address")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if seg[0] == 0x64 && seg[1] == 0xff9b {
                // NAT64 embeds an IPv4 address: judge that one.
                let v4 = Ipv4Addr::new(
                    (seg[6] >> 8) as u8,
                    seg[6] as u8,
                    (seg[7] >> 8) as u8,
                    seg[7] as u8,
                );
                v4_reason(v4)
            } else if seg[0] == 0x2001 && seg[1] == 0xdb8 {
                Some("a documentation address")
            } else {
                None
            }
        }
    }
}

fn v4_reason(v4: Ipv4Addr) -> Option<&'static str> {
    let o = v4.octets();
    if v4 == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if v4.is_loopback() {
        Some("a loopback address")
    } else if v4.is_private() {
        Some("a private address")
    } else if v4.is_link_local() {
        Some("a link-local address")
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        Some("a shared (CGNAT) address")
    } else if v4.is_multicast() || v4.is_broadcast() {
        Some("a multicast or broadcast address")
    } else if v4.is_unspecified() || o[0] == 0 {
        Some("an unspecified address")
    } else if o[0] >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

/// A checked webhook URL: scheme, host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: reqwest::Url,
    pub host: String,
    pub port: u16,
}

/// Checks the URL's shape (what saving an endpoint checks, with literal
/// addresses judged at once).
pub fn check_url(raw: &str, networks: &WebhookNetworks) -> Result<Target, String> {
    let raw = raw.trim();
    if raw.len() > 2000 {
        return Err("The URL is too long.".into());
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|_| "Enter a URL like https://hooks.example.com/tenantry.".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Only http:// and https:// URLs can receive webhooks.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "Leave credentials out of the URL: receivers check the signature instead.".into(),
        );
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "The URL has no host.".to_string())?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    if let Ok(ip) = host.parse::<IpAddr>() {
        judge(ip, networks)?;
    }
    Ok(Target { url, host, port })
}

fn judge(ip: IpAddr, networks: &WebhookNetworks) -> Result<(), String> {
    match not_public(ip) {
        Some(why) if !networks.allows(ip) => Err(format!(
            "The address {ip} is {why}: Tenantry does not send webhooks there unless the server allows that network."
        )),
        _ => Ok(()),
    }
}

/// Resolves the host once and answers the address to connect to; refused
/// when any address it resolves to is not allowed.
pub async fn resolve(target: &Target, networks: &WebhookNetworks) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::time::timeout(
            std::time::Duration::from_secs(3),
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| "The receiver's name did not resolve in time.".to_string())?
        .map_err(|_| "The receiver's name does not resolve.".to_string())?
        .collect(),
    };
    let first = *addrs
        .first()
        .ok_or_else(|| "The receiver's name does not resolve.".to_string())?;
    for a in &addrs {
        judge(a.ip(), networks)?;
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_refused_unless_allowed() {
        let none = WebhookNetworks::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "ff02::1",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(not_public(ip).is_some(), "{ip} must be refused");
            assert!(judge(ip, &none).is_err(), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "100.128.0.1",
            "8.8.8.8",
        ] {
            assert_eq!(not_public(ip.parse().expect("ip")), None, "{ip} is public");
        }
        let lab = WebhookNetworks::parse(&["127.0.0.1/32".into(), "10.20.0.0/16".into()])
            .expect("networks");
        assert!(judge("127.0.0.1".parse().expect("ip"), &lab).is_ok());
        assert!(judge("10.20.7.7".parse().expect("ip"), &lab).is_ok());
        assert!(judge("10.21.0.1".parse().expect("ip"), &lab).is_err());
        assert!(judge("169.254.169.254".parse().expect("ip"), &lab).is_err());
        assert!(WebhookNetworks::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(WebhookNetworks::parse(&["example.com".into()]).is_err());
    }

    #[test]
    fn urls_are_checked_before_anything_is_sent() {
        let none = WebhookNetworks::default();
        assert!(check_url("https://hooks.example.com/x", &none).is_ok());
        for bad in [
            "ftp://hooks.example.com/",
            "file:///etc/passwd",
            "https://user:pw@hooks.example.com/",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "not a url",
        ] {
            assert!(check_url(bad, &none).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_at_send_time() {
        let none = WebhookNetworks::default();
        let t = check_url("http://localhost:9/hook", &none).expect("a name passes the shape check");
        assert!(resolve(&t, &none).await.is_err());
        let lab = WebhookNetworks::parse(&["127.0.0.0/8".into(), "::1".into()]).expect("networks");
        assert!(resolve(&t, &lab).await.is_ok());
    }
}
