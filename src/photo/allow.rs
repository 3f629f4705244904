//! Where the service may download photos from.
//!
//! A photo value is data anyone with write access to a row controls, so the service fetches only:
//! - from `SUPABASE_URL`'s origin: Storage objects (with the service key) in
//!   `SUPABASE_STORAGE_BUCKET` or a bucket of `PHOTO_ALLOWED_BUCKETS`, and absolute URLs (without
//!   the key), at whatever address the project resolves to (self-hosted projects live on the LAN);
//! - from the origins of `PHOTO_ALLOWED_ORIGINS`, connecting only to addresses outside the
//!   [`INTERNAL`] ranges unless `PHOTO_ALLOWED_NETS` lists them. The check is made on the
//!   address connected to: host names are resolved by [`GuardedResolver`] (once per connection,
//!   the filtered answer is what is dialled), address literals before the request.
//!
//! Redirects are followed only within the origin they start from (at most 5), so every hop is
//! held to the same rules. Anything else is refused before a connection is made, with a message
//! naming the setting that would allow it and never what an internal address would have answered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use url::{Host, Origin, Url};

/// What the service may fetch photos from besides `SUPABASE_URL`'s origin and
/// `SUPABASE_STORAGE_BUCKET` (the `PHOTO_ALLOWED_*` settings).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    /// `PHOTO_ALLOWED_ORIGINS`: other servers whose photos the service downloads (a CDN).
    pub origins: Vec<Origin>,
    /// `PHOTO_ALLOWED_BUCKETS`: more Storage buckets read with the service key.
    pub buckets: Vec<String>,
    /// `PHOTO_ALLOWED_NETS`: internal networks the listed origins may be reached on.
    pub nets: Vec<IpNet>,
}

impl AllowList {
    /// Whether a download from a listed origin may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = judged(ip);
        !is_internal(ip) || self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Whether `origin` is listed in `PHOTO_ALLOWED_ORIGINS`.
    pub fn lists_origin(&self, origin: &Origin) -> bool {
        self.origins.contains(origin)
    }
}

/// Why the service does not download a photo itself. Each says which setting would allow it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    /// An absolute URL on a server that is neither `SUPABASE_URL`'s nor listed.
    #[error(
        "its server {origin} is not the Supabase project's; add {origin} to PHOTO_ALLOWED_ORIGINS \
         to let the service fetch it"
    )]
    Origin {
        /// The URL's origin (`scheme://host:port`).
        origin: String,
    },
    /// A Storage object in a bucket that is neither `SUPABASE_STORAGE_BUCKET` nor listed.
    #[error(
        "the Storage bucket '{bucket}' is not SUPABASE_STORAGE_BUCKET; add it to \
         PHOTO_ALLOWED_BUCKETS to let the service fetch it"
    )]
    Bucket {
        /// The bucket.
        bucket: String,
    },
    /// A listed origin whose host is (or resolves to) a loopback, private, link-local,
    /// unspecified or multicast address. The address is not named (the log has it).
    #[error(
        "its server is on an internal network address; add that network to PHOTO_ALLOWED_NETS to \
         let the service fetch it"
    )]
    InternalAddress,
}

impl NotAllowed {
    /// The setting that would allow the download.
    pub fn setting(&self) -> &'static str {
        match self {
            Self::Origin { .. } => "PHOTO_ALLOWED_ORIGINS",
            Self::Bucket { .. } => "PHOTO_ALLOWED_BUCKETS",
            Self::InternalAddress => "PHOTO_ALLOWED_NETS",
        }
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len))
}

/// `first::last/len`.
const fn v6(first: u16, last: u16, len: u8) -> IpNet {
    IpNet::V6(Ipv6Net::new_assert(
        Ipv6Addr::new(first, 0, 0, 0, 0, 0, 0, last),
        len,
    ))
}

/// The ranges a download from a listed origin never connects to unless `PHOTO_ALLOWED_NETS`
/// lists them. IPv6 addresses that carry an IPv4 address (mapped `::ffff:0:0/96`, compatible
/// `::/96` but for `::` and `::1`, NAT64 `64:ff9b::/96`) are judged by the IPv4 address.
pub const INTERNAL: &[(IpNet, &str)] = &[
    (v4(0, 0, 0, 0, 8), "this network, unspecified (0.0.0.0)"),
    (v4(10, 0, 0, 0, 8), "private"),
    (v4(100, 64, 0, 0, 10), "carrier-grade NAT (RFC 6598)"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local (cloud metadata)"),
    (v4(172, 16, 0, 0, 12), "private"),
    (v4(192, 168, 0, 0, 16), "private"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(240, 0, 0, 0, 4), "reserved, broadcast"),
    (v6(0, 0, 128), "unspecified (::)"),
    (v6(0, 1, 128), "loopback (::1)"),
    (v6(0xfc00, 0, 7), "unique local (private)"),
    (v6(0xfe80, 0, 10), "link-local"),
    (v6(0xfec0, 0, 10), "site-local (deprecated private)"),
    (v6(0xff00, 0, 8), "multicast"),
];

/// Whether `ip` is in one of the [`INTERNAL`] ranges.
pub fn is_internal(ip: IpAddr) -> bool {
    let ip = judged(ip);
    INTERNAL.iter().any(|(net, _)| net.contains(&ip))
}

/// The address `ip` is judged as: the IPv4 address an IPv6 address carries, else itself.
fn judged(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The IPv4 address an IPv6 address stands for, if any (mapped, compatible, NAT64).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7]));
    match s[..6] {
        // `::` and `::1` are IPv6's own unspecified and loopback addresses, not IPv4-compatible.
        [0, 0, 0, 0, 0, 0] if s[6] == 0 && s[7] <= 1 => None,
        [0, 0, 0, 0, 0, 0 | 0xffff] | [0x64, 0xff9b, 0, 0, 0, 0] => Some(tail),
        _ => None,
    }
}

/// Resolves host names for downloads from listed origins, keeping only the addresses
/// [`AllowList::permits`]; an answer with none left is an [`AddressRefused`] error.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl GuardedResolver {
    pub(crate) fn new(allow: Arc<AllowList>) -> Self {
        Self { allow }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(resolve_guarded(
            Arc::clone(&self.allow),
            name.as_str().to_owned(),
        ))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn resolve_guarded(allow: Arc<AllowList>, host: String) -> Result<Addrs, BoxError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        found.into_iter().partition(|a| allow.permits(a.ip()));
    if kept.is_empty() && !refused.is_empty() {
        tracing::warn!(
            host,
            addresses = ?refused.iter().map(SocketAddr::ip).collect::<Vec<_>>(),
            "photo download refused: the host resolves to internal addresses only (PHOTO_ALLOWED_NETS)"
        );
        return Err(Box::new(AddressRefused));
    }
    Ok(Box::new(kept.into_iter()))
}

/// A host name resolved to internal addresses only (found in a download error's sources).
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to internal addresses only")]
pub(crate) struct AddressRefused;

/// Whether `error` (a download error) was caused by [`AddressRefused`].
pub(crate) fn refused_address(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<AddressRefused>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// An address literal in `url`'s host, if it is one.
pub(crate) fn literal_address(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Follows redirects only within the origin of the first URL, at most 5; any other redirect
/// is returned as it is (and reported, not followed).
pub(crate) fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if attempt.previous().len() < 5 && first == Some(attempt.url().origin()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_ranges_are_refused_in_both_families_and_in_disguise() {
        for internal in [
            "127.0.0.1",
            "127.0.0.2",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.100",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.251",
            "255.255.255.255",
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
        ] {
            assert!(is_internal(ip(internal)), "{internal}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert!(!is_internal(ip(public)), "{public}");
        }
    }

    #[test]
    fn allowed_nets_open_exactly_their_range() {
        let allow = AllowList {
            nets: vec!["127.0.0.1/32".parse().unwrap()],
            ..AllowList::default()
        };
        assert!(allow.permits(ip("127.0.0.1")));
        assert!(allow.permits(ip("::ffff:127.0.0.1")), "judged as IPv4");
        assert!(allow.permits(ip("64:ff9b::127.0.0.1")), "NAT64 too");
        assert!(!allow.permits(ip("127.0.0.2")));
        assert!(!allow.permits(ip("::1")));
        let v6_loopback = AllowList {
            nets: vec!["::1/128".parse().unwrap()],
            ..AllowList::default()
        };
        assert!(v6_loopback.permits(ip("::1")));
        assert!(!v6_loopback.permits(ip("127.0.0.1")));
        assert!(
            allow.permits(ip("93.184.216.34")),
            "public addresses need no listing"
        );
    }

    #[test]
    fn each_refusal_names_its_setting() {
        for (why, setting) in [
            (
                NotAllowed::Origin {
                    origin: "https://cdn.example.com".into(),
                },
                "PHOTO_ALLOWED_ORIGINS",
            ),
            (
                NotAllowed::Bucket {
                    bucket: "hr".into(),
                },
                "PHOTO_ALLOWED_BUCKETS",
            ),
            (NotAllowed::InternalAddress, "PHOTO_ALLOWED_NETS"),
        ] {
            assert_eq!(why.setting(), setting);
            assert!(why.to_string().contains(setting), "{why}");
        }
    }
}
