//! The SSRF guard for provider base URLs. A config (or a hostile DNS answer)
//! must not point the gateway — with the user's keys — at cloud metadata,
//! link-local or private-network services. Decided on the resolved address
//! at connect time (a custom DNS resolver for the upstream client), and on
//! IP-literal base URLs at validation:
//! - cloud metadata and link-local: always refused;
//! - private ranges (RFC 1918, CGNAT, ULA): only when listed in
//!   `server.allow_private_upstreams`;
//! - loopback: allowed (local model servers: Ollama, LM Studio, vLLM).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;

/// An `addr/prefix` network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP network like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.parse::<u8>()
                .map_err(|_| format!("bad prefix in {s:?}"))?
        };
        if prefix > max {
            return Err(format!("prefix /{prefix} too long in {s:?}"));
        }
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// Which private networks the operator allowed.
#[derive(Debug, Clone, Default)]
pub struct SsrfPolicy {
    pub allow_private: Vec<Cidr>,
}

const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack…
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
];
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

fn private_v4(ip: Ipv4Addr) -> bool {
    ip.is_private()
        || Cidr {
            addr: IpAddr::V4(Ipv4Addr::new(100, 64, 0, 0)),
            prefix: 10,
        }
        .contains(IpAddr::V4(ip))
}

/// The decision: `Err(reason)` when the gateway must not connect to `ip`.
pub fn check(ip: IpAddr, policy: &SsrfPolicy) -> Result<(), String> {
    // ::ffff:a.b.c.d is the IPv4 address in disguise
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let deny = |why: &str| Err(format!("{ip} is {why}; refused by the SSRF guard"));
    match ip {
        IpAddr::V4(v4) => {
            if METADATA_V4.contains(&v4) {
                return deny("a cloud metadata address");
            }
            if v4.is_loopback() {
                return Ok(());
            }
            if v4.is_link_local() {
                return deny("link-local");
            }
            if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() {
                return deny("not a unicast host address");
            }
            if private_v4(v4) && !policy.allow_private.iter().any(|c| c.contains(ip)) {
                return deny("in a private range (allow it in server.allow_private_upstreams)");
            }
        }
        IpAddr::V6(v6) => {
            if v6 == METADATA_V6 {
                return deny("a cloud metadata address");
            }
            if v6.is_loopback() {
                return Ok(());
            }
            if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                return deny("link-local");
            }
            if v6.is_unspecified() || v6.is_multicast() {
                return deny("not a unicast host address");
            }
            if (v6.segments()[0] & 0xfe00) == 0xfc00
                && !policy.allow_private.iter().any(|c| c.contains(ip))
            {
                return deny("in a private range (allow it in server.allow_private_upstreams)");
            }
        }
    }
    Ok(())
}

/// DNS for the upstream client: resolves, then drops every address the
/// policy refuses; fails when none is left.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver {
    pub policy: Arc<ArcSwap<SsrfPolicy>>,
}

impl GuardedResolver {
    /// `host`'s addresses that the policy allows; an error naming the
    /// refusal when none is left.
    async fn resolve_allowed(
        policy: Arc<SsrfPolicy>,
        host: String,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
        let mut refused = None;
        let ok: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match check(a.ip(), &policy) {
                Ok(()) => true,
                Err(e) => {
                    refused = Some(e);
                    false
                }
            })
            .collect();
        if ok.is_empty() {
            let why = refused.unwrap_or_else(|| "no address".to_string());
            return Err(format!("{host}: {why}").into());
        }
        Ok(ok)
    }
}

/// For reqwest (the client used through an HTTP proxy).
impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let fut = Self::resolve_allowed(self.policy.load_full(), name.as_str().to_string());
        Box::pin(async move {
            let it: reqwest::dns::Addrs = Box::new(fut.await?.into_iter());
            Ok(it)
        })
    }
}

/// For hyper-util's connector (the direct upstream client).
impl tower::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let fut = Self::resolve_allowed(self.policy.load_full(), name.as_str().to_string());
        Box::pin(async move { Ok(fut.await?.into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_always_refused() {
        let open = SsrfPolicy {
            allow_private: vec![
                Cidr::parse("0.0.0.0/0").unwrap(),
                Cidr::parse("::/0").unwrap(),
            ],
        };
        for bad in [
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "169.254.1.1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(check(ip(bad), &open).is_err(), "{bad}");
            assert!(check(ip(bad), &SsrfPolicy::default()).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_and_public_allowed() {
        for good in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "104.18.6.192",
            "2606:4700::6810:6c0",
        ] {
            assert!(check(ip(good), &SsrfPolicy::default()).is_ok(), "{good}");
        }
    }

    #[test]
    fn private_only_when_listed() {
        let none = SsrfPolicy::default();
        for p in [
            "10.1.2.3",
            "172.16.0.5",
            "192.168.1.20",
            "100.64.3.4",
            "fd12::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(check(ip(p), &none).is_err(), "{p}");
        }
        let some = SsrfPolicy {
            allow_private: vec![
                Cidr::parse("192.168.1.0/24").unwrap(),
                Cidr::parse("fd12::/16").unwrap(),
            ],
        };
        assert!(check(ip("192.168.1.20"), &some).is_ok());
        assert!(check(ip("fd12::1"), &some).is_ok());
        assert!(check(ip("192.168.2.20"), &some).is_err());
        assert!(check(ip("10.0.0.1"), &some).is_err());
    }

    #[test]
    fn other_specials_refused() {
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1"] {
            assert!(check(ip(bad), &SsrfPolicy::default()).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidr_parsing() {
        assert!(
            Cidr::parse("10.0.0.0/8")
                .unwrap()
                .contains(ip("10.255.0.1"))
        );
        assert!(Cidr::parse("10.0.0.7").unwrap().contains(ip("10.0.0.7")));
        assert!(!Cidr::parse("10.0.0.7").unwrap().contains(ip("10.0.0.8")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
    }
}
