//! Who may talk to this server, and from where: the configured public URL,
//! the hosts a request may name (a DNS-rebinding page names its own), the
//! origins a state-changing request may come from, and the reverse proxies
//! whose `X-Forwarded-For` is believed.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// `--public-url`: the https (or http) address people open, without a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    scheme: String,
    /// Host and port as a browser writes them in `Host` (default port left out).
    authority: String,
}

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<PublicUrl, String> {
        let err = || {
            format!(
                "--public-url must look like https://tenantry.example.com (scheme and host, no path), not {raw:?}"
            )
        };
        let uri: http::Uri = raw.trim().parse().map_err(|_| err())?;
        let scheme = uri.scheme_str().ok_or_else(err)?.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(err());
        }
        let host = uri.host().ok_or_else(err)?.to_ascii_lowercase();
        if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
            return Err(err());
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        let authority = match uri.port_u16() {
            Some(p) if p != default_port => format!("{host}:{p}"),
            _ => host,
        };
        Ok(PublicUrl { scheme, authority })
    }

    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The address with a path, for links in tickets and mail.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

/// An address or a CIDR block (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    pub fn parse(raw: &str) -> Result<IpBlock, String> {
        let err = || format!("{raw:?} is not an IP address or CIDR block (e.g. 10.0.0.0/8)");
        let (ip, prefix) = match raw.trim().split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().map_err(|_| err())?)),
            None => (raw.trim(), None),
        };
        let addr: IpAddr = ip.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(err());
        }
        Ok(IpBlock { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses `--trusted-proxies` (comma-separated addresses or CIDR blocks).
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpBlock>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(IpBlock::parse)
        .collect()
}

/// Web settings from configuration.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    pub public_url: Option<PublicUrl>,
    pub trusted_proxies: Vec<IpBlock>,
    /// In-flight bound, request timeout, shutdown drain.
    pub limits: crate::shedding::LoadLimits,
    /// Header timeout and open-connection cap of the accept loop.
    pub connections: crate::serving::ConnectionLimits,
}

/// What the router checks on every request, decided once at start-up from
/// the configuration and the address actually bound.
#[derive(Debug, Clone)]
pub struct Allowed {
    public: Option<PublicUrl>,
    hosts: BTreeSet<String>,
    origins: BTreeSet<String>,
    trusted_proxies: Vec<IpBlock>,
}

impl Allowed {
    pub fn new(web: &WebConfig, bound: SocketAddr) -> Allowed {
        let mut hosts = BTreeSet::new();
        let mut origins = BTreeSet::new();
        let port = bound.port();
        let mut local = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !bound.ip().is_unspecified() && !bound.ip().is_loopback() {
            local.push(match bound {
                SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
                SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
            });
        }
        for h in local {
            origins.insert(format!("http://{h}"));
            hosts.insert(h);
        }
        if let Some(url) = &web.public_url {
            hosts.insert(url.authority.clone());
            let default_port = if url.scheme == "https" { 443 } else { 80 };
            if !url.authority.contains(':') || url.authority.ends_with(']') {
                hosts.insert(format!("{}:{default_port}", url.authority));
            }
            origins.insert(url.origin());
        }
        Allowed {
            public: web.public_url.clone(),
            hosts,
            origins,
            trusted_proxies: web.trusted_proxies.clone(),
        }
    }

    /// The origin for absolute links: the public URL when configured, else
    /// the (already allowed) host this request named.
    pub fn site_origin(&self, host: &str) -> String {
        match &self.public {
            Some(url) => url.origin(),
            None => format!("http://{}", host.to_ascii_lowercase()),
        }
    }

    pub fn host_allowed(&self, host: &str) -> bool {
        self.hosts.contains(&host.to_ascii_lowercase())
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.contains(&origin.to_ascii_lowercase())
    }

    /// The client's address: the socket's peer, or, when the peer is a
    /// trusted proxy, the right-most `X-Forwarded-For` entry that is not one.
    pub fn client_address(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let trusted = |ip: IpAddr| self.trusted_proxies.iter().any(|b| b.contains(ip));
        if !trusted(peer) {
            return peer;
        }
        let Some(chain) = forwarded_for else {
            return peer;
        };
        let mut client = peer;
        for hop in chain.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !trusted(ip) {
                        break;
                    }
                }
                // A hop we cannot read: stop at what we can vouch for.
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(public: Option<&str>, proxies: &str) -> Allowed {
        let web = WebConfig {
            public_url: public.map(|p| PublicUrl::parse(p).expect("url")),
            trusted_proxies: parse_trusted_proxies(proxies).expect("proxies"),
            ..WebConfig::default()
        };
        Allowed::new(&web, "127.0.0.1:3000".parse().expect("addr"))
    }

    #[test]
    fn hosts_are_the_public_url_and_the_bound_loopback() {
        let a = allowed(Some("https://Tenantry.Example.com"), "");
        for ok in [
            "tenantry.example.com",
            "tenantry.example.com:443",
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST:3000",
        ] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1:3001",
            "tenantry.example.com.evil.example",
            "tenantry.example.com:8443",
            "",
        ] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
        assert!(a.origin_allowed("https://tenantry.example.com"));
        assert!(a.origin_allowed("http://127.0.0.1:3000"));
        assert!(!a.origin_allowed("http://tenantry.example.com"));
        assert!(!a.origin_allowed("https://evil.example"));
        assert!(!a.origin_allowed("null"));
    }

    #[test]
    fn public_urls_are_scheme_and_host_only() {
        assert_eq!(
            PublicUrl::parse("https://t.example:8443/").map(|u| u.origin()),
            Ok("https://t.example:8443".to_string())
        );
        assert_eq!(
            PublicUrl::parse("http://t.example:80").map(|u| u.origin()),
            Ok("http://t.example".to_string())
        );
        for bad in [
            "t.example",
            "ftp://t.example",
            "https://t.example/app",
            "https://t.example/?x=1",
            "",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let a = allowed(None, "10.0.0.0/8, 192.168.1.5");
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        // From a trusted proxy: the right-most untrusted hop.
        assert_eq!(
            a.client_address(ip("10.1.2.3"), Some("203.0.113.9, 198.51.100.7, 10.0.0.2")),
            ip("198.51.100.7")
        );
        // A client cannot pick its address by sending the header itself.
        assert_eq!(
            a.client_address(ip("203.0.113.50"), Some("1.2.3.4")),
            ip("203.0.113.50")
        );
        assert_eq!(a.client_address(ip("192.168.1.5"), None), ip("192.168.1.5"));
        assert_eq!(
            a.client_address(ip("10.1.2.3"), Some("not-an-ip, 198.51.100.7")),
            ip("198.51.100.7")
        );
        assert!(IpBlock::parse("10.0.0.0/33").is_err());
        assert!(IpBlock::parse("::1").expect("v6").contains(ip("::1")));
        assert!(
            IpBlock::parse("10.0.0.0/8")
                .expect("v4")
                .contains(ip("::ffff:10.9.8.7"))
        );
    }
}
