//! The SSRF guard for provider base URLs. A config (or a hostile DNS answer)
//! must not point the gateway — with the user's keys — at cloud metadata,
//! link-local or private-network services. Decided on the resolved address
//! at connect time (a custom DNS resolver for the upstream client), and on
//! IP-literal base URLs at validation:
//! - cloud metadata and link-local: always refused;
//! - private ranges (RFC 1918, CGNAT, ULA): only when listed in
//!   `server.allow_private_upstreams`;
//! - loopback: allowed (local model servers: Ollama, LM Studio, vLLM);
//! - `0.0.0.0/8`, broadcast, multicast, unspecified: always refused;
//! - IPv6 addresses carrying an IPv4 one (`::ffff:`, `::ffff:0:`, `::a.b.c.d`,
//!   NAT64, 6to4, Teredo): the IPv4 rules on the carried address(es) too.

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

/// How an IPv4 address sits inside an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d`: the operating system connects to the IPv4 address
    /// itself, so it is judged exactly as that address (loopback included).
    Mapped,
    /// `::ffff:0:a.b.c.d` (SIIT, RFC 6145).
    Translated,
    /// `::a.b.c.d` (deprecated IPv4-compatible, RFC 4291).
    Compatible,
    /// `64:ff9b::/96` (RFC 6052) and local-use `64:ff9b:1::/48` (RFC 8215):
    /// the last 32 bits.
    Nat64,
    /// `2002::/16` (RFC 3056): bits 16..48.
    SixToFour,
    /// `2001::/32` (RFC 4380): the server at bits 32..64.
    TeredoServer,
    /// `2001::/32`: the client, the last 32 bits XOR `0xffffffff`.
    TeredoClient,
}

impl Embedding {
    fn name(self) -> &'static str {
        match self {
            Embedding::Mapped => "IPv4-mapped",
            Embedding::Translated => "IPv4-translated",
            Embedding::Compatible => "IPv4-compatible",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
            Embedding::TeredoServer => "Teredo server",
            Embedding::TeredoClient => "Teredo client",
        }
    }
}

/// The IPv4 addresses `ip` carries, with how: none for a plain IPv6
/// address, two for Teredo (server and client).
pub fn embedded_v4(ip: Ipv6Addr) -> Vec<(Embedding, Ipv4Addr)> {
    let s = ip.segments();
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => vec![(Embedding::Mapped, low32)],
        [0, 0, 0, 0, 0xffff, 0, _, _] => vec![(Embedding::Translated, low32)],
        // `::` and `::1` are IPv6's own unspecified and loopback addresses
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => vec![],
        [0, 0, 0, 0, 0, 0, _, _] => vec![(Embedding::Compatible, low32)],
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => {
            vec![(Embedding::Nat64, low32)]
        }
        [0x2002, hi, lo, ..] => vec![(Embedding::SixToFour, v4(hi, lo))],
        [0x2001, 0, hi, lo, ..] => vec![
            (Embedding::TeredoServer, v4(hi, lo)),
            (Embedding::TeredoClient, Ipv4Addr::from(!u32::from(low32))),
        ],
        _ => vec![],
    }
}

fn allowed(policy: &SsrfPolicy, ip: IpAddr) -> bool {
    policy.allow_private.iter().any(|c| c.contains(ip))
}

const PRIVATE: &str = "in a private range (allow it in server.allow_private_upstreams)";

/// The IPv4 rules; `Err(why)` when refused. `loopback_ok`: the address is
/// this machine's loopback (a plain or IPv4-mapped address), not another
/// host's reached through a translator or tunnel.
fn check_v4(v4: Ipv4Addr, policy: &SsrfPolicy, loopback_ok: bool) -> Result<(), &'static str> {
    // 0.0.0.0/8 is "this network": connecting to it reaches this host on
    // some systems; it is not loopback, and no allow list opens it.
    if v4.octets()[0] == 0 {
        return Err(
            "in 0.0.0.0/8 (\"this network\", not a host address; for a server on this machine use 127.0.0.1)",
        );
    }
    if METADATA_V4.contains(&v4) {
        return Err("a cloud metadata address");
    }
    if v4.is_loopback() {
        return if loopback_ok {
            Ok(())
        } else {
            Err("loopback of another host (reached through a translator or tunnel)")
        };
    }
    if v4.is_link_local() {
        return Err("link-local");
    }
    if v4.is_broadcast() || v4.is_multicast() {
        return Err("not a unicast host address");
    }
    if private_v4(v4) && !allowed(policy, IpAddr::V4(v4)) {
        return Err(PRIVATE);
    }
    Ok(())
}

/// The IPv6 rules for an address that embeds no IPv4 one.
fn check_v6(v6: Ipv6Addr, policy: &SsrfPolicy) -> Result<(), &'static str> {
    if v6 == METADATA_V6 {
        return Err("a cloud metadata address");
    }
    if v6.is_loopback() {
        return Ok(());
    }
    if (v6.segments()[0] & 0xffc0) == 0xfe80 {
        return Err("link-local");
    }
    if v6.is_unspecified() || v6.is_multicast() {
        return Err("not a unicast host address");
    }
    if (v6.segments()[0] & 0xfe00) == 0xfc00 && !allowed(policy, IpAddr::V6(v6)) {
        return Err(PRIVATE);
    }
    Ok(())
}

/// The decision: `Err(reason)` when the gateway must not connect to `ip`.
/// An IPv6 address that carries an IPv4 one (mapped, translated,
/// compatible, NAT64, 6to4, Teredo) is judged by the IPv4 rules on every
/// address it carries (Teredo: server and client) and then by the IPv6
/// rules; only the IPv4-mapped form keeps the loopback allowance, since the
/// others reach the IPv4 address through another host.
pub fn check(ip: IpAddr, policy: &SsrfPolicy) -> Result<(), String> {
    let deny = |why: &str| Err(format!("{ip} is {why}; refused by the SSRF guard"));
    match ip {
        IpAddr::V4(v4) => check_v4(v4, policy, true).or_else(deny),
        IpAddr::V6(v6) => {
            for (how, v4) in embedded_v4(v6) {
                if let Err(why) = check_v4(v4, policy, how == Embedding::Mapped) {
                    return Err(format!(
                        "{ip} carries {v4} ({}), which is {why}; refused by the SSRF guard",
                        how.name()
                    ));
                }
                if how == Embedding::Mapped {
                    // the IPv4 address itself: no IPv6 rule applies
                    return Ok(());
                }
            }
            check_v6(v6, policy).or_else(deny)
        }
    }
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

    /// Every policy the tables are run against: nothing allowed, and
    /// everything a CIDR can allow.
    fn policies() -> [(&'static str, SsrfPolicy); 2] {
        [
            ("default", SsrfPolicy::default()),
            (
                "open",
                SsrfPolicy {
                    allow_private: vec![
                        Cidr::parse("0.0.0.0/0").unwrap(),
                        Cidr::parse("::/0").unwrap(),
                    ],
                },
            ),
        ]
    }

    #[test]
    fn this_network_is_refused_even_when_everything_is_allowed() {
        for bad in ["0.0.0.0", "0.0.0.1", "0.1.2.3", "0.255.255.255"] {
            for (name, policy) in policies() {
                let e = check(ip(bad), &policy).unwrap_err();
                assert!(e.contains("0.0.0.0/8"), "{bad} ({name}): {e}");
            }
        }
        // the neighbours are ordinary addresses
        assert!(check(ip("1.0.0.1"), &SsrfPolicy::default()).is_ok());
    }

    /// (address, what it carries, refused by the default policy?)
    const EMBEDDED: &[(&str, &str, bool)] = &[
        // IPv4-mapped: the address itself, loopback included
        ("::ffff:127.0.0.1", "127.0.0.1", false),
        ("::ffff:169.254.169.254", "169.254.169.254", true),
        ("::ffff:0.0.0.0", "0.0.0.0", true),
        ("::ffff:8.8.8.8", "8.8.8.8", false),
        // IPv4-translated
        ("::ffff:0:169.254.169.254", "169.254.169.254", true),
        ("::ffff:0:10.0.0.1", "10.0.0.1", true),
        ("::ffff:0:8.8.8.8", "8.8.8.8", false),
        // IPv4-compatible
        ("::169.254.169.254", "169.254.169.254", true),
        ("::10.1.2.3", "10.1.2.3", true),
        ("::192.168.0.1", "192.168.0.1", true),
        ("::127.0.0.1", "127.0.0.1", true),
        ("::0.0.0.2", "0.0.0.2", true),
        ("::8.8.8.8", "8.8.8.8", false),
        // NAT64, well-known prefix
        ("64:ff9b::169.254.169.254", "169.254.169.254", true),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", true),
        ("64:ff9b::10.0.0.1", "10.0.0.1", true),
        ("64:ff9b::127.0.0.1", "127.0.0.1", true),
        ("64:ff9b::0.0.0.0", "0.0.0.0", true),
        ("64:ff9b::100.100.100.200", "100.100.100.200", true),
        ("64:ff9b::8.8.8.8", "8.8.8.8", false),
        // NAT64, local-use prefix
        ("64:ff9b:1::169.254.169.254", "169.254.169.254", true),
        ("64:ff9b:1:abcd::192.168.1.1", "192.168.1.1", true),
        ("64:ff9b:1::8.8.8.8", "8.8.8.8", false),
        // 6to4: bits 16..48
        ("2002:a9fe:a9fe::", "169.254.169.254", true),
        ("2002:a9fe:a9fe:1::1", "169.254.169.254", true),
        ("2002:0a00:0001::1", "10.0.0.1", true),
        ("2002:c0a8:0101::1", "192.168.1.1", true),
        ("2002:7f00:0001::1", "127.0.0.1", true),
        ("2002:0000:0001::1", "0.0.0.1", true),
        ("2002:0808:0808::1", "8.8.8.8", false),
        // Teredo: server at bits 32..64, client = last 32 bits XOR 1s
        ("2001:0:a9fe:a9fe::f7f7:f7f7", "169.254.169.254", true),
        ("2001:0:0808:0808::5601:5601", "169.254.169.254", true), // client
        ("2001:0:0a00:0001::f7f7:f7f7", "10.0.0.1", true),
        ("2001:0:0808:0808::f5ff:fffe", "10.0.0.1", true), // client
        ("2001:0:0808:0808::80ff:fffe", "127.0.0.1", true), // client
        ("2001:0:0808:0808::ffff:ffff", "0.0.0.0", true),  // client
        ("2001:0:0808:0808::f7f7:f7f7", "8.8.8.8", false),
    ];

    #[test]
    fn embedded_ipv4_is_decoded() {
        for &(addr, carried, _) in EMBEDDED {
            let IpAddr::V6(v6) = ip(addr) else {
                panic!("{addr}")
            };
            let found: Vec<String> = embedded_v4(v6)
                .into_iter()
                .map(|(_, v4)| v4.to_string())
                .collect();
            assert!(found.contains(&carried.to_string()), "{addr}: {found:?}");
        }
        for plain in ["::", "::1", "2606:4700::6810:6c0", "2001:db8::1", "fd00::1"] {
            let IpAddr::V6(v6) = ip(plain) else {
                panic!("{plain}")
            };
            assert_eq!(embedded_v4(v6), vec![], "{plain}");
        }
    }

    #[test]
    fn embedded_ipv4_gets_the_ipv4_rules() {
        for &(addr, carried, refused) in EMBEDDED {
            let got = check(ip(addr), &SsrfPolicy::default());
            assert_eq!(got.is_err(), refused, "{addr} carrying {carried}: {got:?}");
            if let Err(e) = got {
                assert!(e.contains(carried), "{addr}: {e}");
            }
            // the IPv4 rules give the same answer as for the carried address,
            // except loopback, which only the mapped form keeps
            if !addr.starts_with("::ffff:") || addr.starts_with("::ffff:0:") {
                if ip(carried).is_loopback() {
                    assert!(refused, "{addr}");
                } else {
                    assert_eq!(
                        check(ip(carried), &SsrfPolicy::default()).is_err(),
                        refused,
                        "{addr} vs {carried}"
                    );
                }
            }
        }
    }

    #[test]
    fn embedded_metadata_link_local_and_this_network_refused_whatever_is_allowed() {
        for &(addr, carried, _) in EMBEDDED {
            let v4: Ipv4Addr = carried.parse().unwrap();
            let always = METADATA_V4.contains(&v4) || v4.is_link_local() || v4.octets()[0] == 0;
            if always {
                for (name, policy) in policies() {
                    assert!(check(ip(addr), &policy).is_err(), "{addr} ({name})");
                }
            }
        }
    }

    #[test]
    fn embedded_private_follows_the_allow_list_of_the_ipv4_address() {
        let lan = SsrfPolicy {
            allow_private: vec![Cidr::parse("192.168.1.0/24").unwrap()],
        };
        for addr in [
            "::ffff:192.168.1.1",
            "64:ff9b::192.168.1.1",
            "2002:c0a8:0101::1",
            "2001:0:0808:0808::3f57:fefe", // Teredo client 192.168.1.1
        ] {
            assert!(check(ip(addr), &SsrfPolicy::default()).is_err(), "{addr}");
            assert!(check(ip(addr), &lan).is_ok(), "{addr}");
        }
        // a Teredo address is refused if either carried address is
        assert!(check(ip("2001:0:c0a8:0101::f7f7:f7f7"), &lan).is_ok());
        assert!(check(ip("2001:0:c0a8:0101::5601:5601"), &lan).is_err()); // client 169.254.169.254
        assert!(check(ip("2001:0:a9fe:a9fe::3f57:fefe"), &lan).is_err()); // server 169.254.169.254
    }

    /// The connect-time resolver drops what the decision refuses, for
    /// literals too (resolved without DNS, never connected to).
    #[tokio::test]
    async fn the_resolver_applies_the_decision() {
        let policy = Arc::new(SsrfPolicy::default());
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "::10.0.0.1",
        ] {
            let e = GuardedResolver::resolve_allowed(policy.clone(), bad.to_string())
                .await
                .unwrap_err();
            assert!(e.to_string().contains("SSRF"), "{bad}: {e}");
        }
        let ok = GuardedResolver::resolve_allowed(policy, "127.0.0.1".to_string())
            .await
            .unwrap();
        assert_eq!(ok[0].ip(), ip("127.0.0.1"));
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
