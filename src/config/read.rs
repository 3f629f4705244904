//! Reading one setting's value: the readers every section of the settings shares. Each adds a
//! problem naming the setting to `problems` instead of stopping at the first.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

/// A duration in milliseconds within `range`; `default` when unset; a problem when invalid.
pub(super) fn read_millis(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
    key: &str,
    default: Duration,
    (min, max): (u64, u64),
) -> Duration {
    match get(key).map(|v| (v.parse::<u64>(), v)) {
        None => default,
        Some((Ok(n), _)) if (min..=max).contains(&n) => Duration::from_millis(n),
        Some((_, v)) => {
            problems.push(format!(
                "{key}='{v}' must be a whole number of milliseconds between {min} and {max}"
            ));
            default
        }
    }
}

/// A true/false setting (`true`/`1`, `false`/`0`); `None` when unset or invalid (then a problem).
pub(super) fn flag(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<bool> {
    match get(key).map(|v| v.to_ascii_lowercase()) {
        None => None,
        Some(v) if v == "true" || v == "1" => Some(true),
        Some(v) if v == "false" || v == "0" => Some(false),
        Some(v) => {
            problems.push(format!("{key}='{v}' must be true or false"));
            None
        }
    }
}

/// A whole number setting within `min..=max`, or a problem naming it.
pub(super) fn whole_number(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    min: usize,
    max: usize,
    problems: &mut Vec<String>,
) -> Option<usize> {
    let v = get(key)?;
    match v.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            problems.push(format!(
                "{key}='{v}' must be a whole number between {min} and {max}"
            ));
            None
        }
    }
}

/// `a/b, c/d` to networks; a bare address is a network of one.
pub fn parse_nets(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{item}' is not a network like 10.0.0.0/8 or an address"))
        })
        .collect()
}

/// An absolute http(s) URL with a host, or why not.
pub(super) fn parse_http_url(v: &str) -> Result<Url, String> {
    match Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        Ok(_) => Err(format!("'{v}' must be an http(s) URL")),
        Err(e) => Err(format!("'{v}' is not a URL ({e})")),
    }
}

/// An origin (`scheme://host[:port]`, nothing after it), as a URL.
pub(super) fn parse_origin(v: &str) -> Option<Url> {
    parse_http_url(v)
        .ok()
        .filter(|u| u.path() == "/" && u.query().is_none() && u.fragment().is_none())
        .filter(|u| u.username().is_empty() && u.password().is_none())
}
