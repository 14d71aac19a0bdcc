//! busybox `ip` (`ip addr`, `ip link`, `ip route`, `ip route get`) in a pod of a kind cluster.
//!
//! **The pod's network namespace** is what kindnet's CNI config sets up (kubernetes-sigs/kind
//! `images/kindnetd/cmd/kindnetd/cni.go`: the `ptp` plugin with `host-local` IPAM over the node's
//! podCIDR and one route, `0.0.0.0/0`):
//! - `lo` (ifindex 1) with `127.0.0.1/8` and `::1/128` (IPv6 is on in a pod's namespace);
//! - `eth0`, one end of a veth pair made from inside the pod's namespace with the other end
//!   created directly in the node's (containernetworking/plugins `pkg/ip/link_linux.go`
//!   `makeVethPair`, `PeerNamespace`), so it is ifindex 2; `NewLinkAttrs` leaves the queue length
//!   to the kernel (1000) and the MAC address random (here: a stable hash of the pod IP, with the
//!   locally-administered bit set and the multicast bit clear, as `eth_random_addr` makes it).
//!   The address is the IPAM one with the podCIDR's prefix and its broadcast
//!   (`inet 10.244.1.2/24 brd 10.244.1.255 scope global eth0`), plus the kernel's EUI-64
//!   link-local `fe80::/64`.
//! - The node's end of the pair is numbered by the node's namespace: `lo` is 1, the node's own
//!   `eth0` keeps the large index Docker gave it, and the pod veths follow from 2 in creation
//!   order, which is also the order host-local hands out addresses. So the peer's ifindex is
//!   the pod IP's offset in the podCIDR (`.2` → 2). Not modelled: fallback tunnel devices
//!   (`tunl0`, `sit0`) that a host with those modules loaded adds to every namespace, and the
//!   `kube-ipvs0` device of the IPVS mode, which would shift the numbers by one.
//! - ptp replaces the connected route by a host route to the gateway (the podCIDR's `.1`) and
//!   routes the subnet and the default through it. A busybox `ip route` in a kindnet pod shows
//!   exactly these three lines (aojea/kindnet#14, 2022).
//!
//! **The output layout** is busybox's `networking/libiproute` (the same in 1.28 and 1.36 for
//! what is modelled): `ipaddress.c` `print_linkinfo` / `print_addrinfo` and `iproute.c`
//! `print_route`, which leave a trailing blank after most fields (`dev eth0 `, `scope host `)
//! and put two blanks before `src`. busybox prints the peer of `eth0@…` by looking its index up
//! in the pod's own namespace: an index the pod does not have prints as `if<N>` with `M-DOWN`;
//! index 2 is the pod's own `eth0`, so the first pod of a node shows `eth0@eth0` and no
//! `M-DOWN` (as seen in kind: `2: eth0@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500`).
//! The link's `state UP` (IFLA_OPERSTATE) is printed only when busybox is built against a C
//! library whose `<net/if.h>` defines `IFF_DORMANT`: musl (Alpine, `curlimages/curl`) does, the
//! glibc and uClibc builds of the `busybox` image do not.
//!
//! Errors are busybox's: `ip: invalid argument 'X' to 'ip'`, `ip: can't find device 'X'`,
//! `ip: need at least destination address`, `ip: an inet prefix is expected rather than "X"`,
//! each with exit status 1. What prints busybox's usage text (an unknown object or option, a
//! bare `ip`) is [`ShellError::NotModelled`]: that text starts with the build's version banner.

use super::{Ctx, ExecOutput, ShellError, Toolbox};
use crate::config::Cidr;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The pod's addresses and the veth facts `ip` prints.
pub(crate) struct PodNet {
    /// The pod's IPv4 address.
    pub ip: Ipv4Addr,
    /// The node's podCIDR.
    cidr: Cidr,
    /// The veth's MAC address.
    mac: [u8; 6],
    /// The ifindex of the veth's other end, in the node's namespace.
    peer: u64,
}

impl PodNet {
    /// The network of the exec's pod, or why it is not modelled.
    pub(crate) fn of(ctx: &Ctx<'_>) -> Result<PodNet, ShellError> {
        let spec = ctx.pod.spec.as_ref();
        if spec.and_then(|s| s.host_network).unwrap_or(false) {
            return Err(ShellError::NotModelled(
                "the network of a host-network pod (the node's interfaces)".to_string(),
            ));
        }
        let nm = || ShellError::NotModelled("the network of a pod without an IP".to_string());
        let ip: Ipv4Addr = ctx
            .pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(nm)?;
        let node = spec.and_then(|s| s.node_name.as_deref()).ok_or_else(nm)?;
        let cidr = ctx
            .cluster
            .config()
            .nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.pod_cidr)
            .ok_or_else(nm)?;
        let peer = cidr.offset(ip).ok_or_else(nm)?;
        Ok(PodNet {
            ip,
            cidr,
            mac: mac_of(ip),
            peer,
        })
    }

    fn gateway(&self) -> Ipv4Addr {
        self.cidr.nth(1)
    }

    fn broadcast(&self) -> Ipv4Addr {
        self.cidr.nth(self.cidr.size() - 1)
    }

    /// The kernel's EUI-64 link-local address for the MAC.
    fn link_local(&self) -> Ipv6Addr {
        let m = self.mac.map(u16::from);
        Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            ((m[0] ^ 0x02) << 8) | m[1],
            (m[2] << 8) | 0xff,
            0xfe00 | m[3],
            (m[4] << 8) | m[5],
        )
    }
}

/// A random-looking but stable MAC for the pod's veth: the IP through splitmix64's finalizer,
/// as a locally administered unicast address.
fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let mut h = u64::from(u32::from(ip)) ^ 0x5653_434c_4142_0000; // "VSCLAB"
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let b = h.to_be_bytes();
    [(b[0] & 0xfe) | 0x02, b[1], b[2], b[3], b[4], b[5]]
}

/// `preferred_family` after the common options.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    Inet,
    Inet6,
    Packet,
}

/// busybox's `index_in_substrings`: the keyword `key` is a prefix of (an exact match wins, an
/// ambiguous prefix is no match).
fn index_in_substrings(words: &[&str], key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let mut found = None;
    for (i, w) in words.iter().enumerate() {
        if w.starts_with(key) {
            if *w == key {
                return Some(i);
            }
            if found.is_some() {
                return None;
            }
            found = Some(i);
        }
    }
    found
}

/// `bb_error_msg_and_die`: `ip: MSG` on stderr, exit status 1.
fn die(msg: impl AsRef<str>) -> Result<ExecOutput, ShellError> {
    Ok(ExecOutput::fail(format!("ip: {}\n", msg.as_ref()), 1))
}

fn usage() -> Result<ExecOutput, ShellError> {
    Err(ShellError::NotModelled(
        "ip's usage text (it starts with the build's version banner)".to_string(),
    ))
}

fn invalid_argument(arg: &str, to: &str) -> Result<ExecOutput, ShellError> {
    die(format!("invalid argument '{arg}' to '{to}'"))
}

/// `NEXT_ARG()` at the end of the words.
fn incomplete() -> Result<ExecOutput, ShellError> {
    die("command line is not complete, try \"help\"")
}

fn nm(what: &str) -> Result<ExecOutput, ShellError> {
    Err(ShellError::NotModelled(format!("ip {what}")))
}

/// Runs busybox `ip ARGS…` in the exec's pod.
pub(crate) fn ip(ctx: &Ctx<'_>, args: &[String]) -> Result<ExecOutput, ShellError> {
    let musl = match ctx.toolbox {
        Toolbox::Busybox128 => false,
        Toolbox::Busybox136 => super::image_repo(ctx.image) == "alpine",
        Toolbox::Curl if super::image_repo(ctx.image) == "curl" => true,
        // netshoot has iproute2's ip, whose layout differs.
        _ => return nm(&format!("in image {:?}", ctx.image)),
    };
    // ip_parse_common_args.
    let mut family = Family::Any;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let Some(mut opt) = a.strip_prefix('-') else {
            break;
        };
        if let Some(o) = opt.strip_prefix('-') {
            if o.is_empty() {
                i += 1;
                break;
            }
            opt = o;
        }
        match index_in_substrings(&["oneline", "family", "4", "6", "0"], opt) {
            None => return usage(),
            Some(0) => return nm("-oneline"),
            Some(1) => {
                i += 1;
                let Some(f) = args.get(i) else {
                    return usage();
                };
                family = match f.as_str() {
                    "inet" => Family::Inet,
                    "inet6" => Family::Inet6,
                    "link" => Family::Packet,
                    _ => return invalid_argument(f, "family"),
                };
            }
            Some(2) => family = Family::Inet,
            Some(3) => family = Family::Inet6,
            _ => family = Family::Packet,
        }
        i += 1;
    }
    let rest = &args[i..];
    let Some(object) = rest.first() else {
        return usage();
    };
    let words: Vec<&str> = rest[1..].iter().map(String::as_str).collect();
    let objects = [
        "address", "route", "r", "link", "tunnel", "tunl", "rule", "neigh",
    ];
    match index_in_substrings(&objects, object) {
        None => usage(),
        Some(0) => addr(ctx, family, musl, &words),
        Some(1 | 2) => route(ctx, family, &words),
        Some(3) => link(ctx, musl, &words),
        Some(_) => nm(object),
    }
}

/// `do_ipaddr`.
fn addr(
    ctx: &Ctx<'_>,
    family: Family,
    musl: bool,
    words: &[&str],
) -> Result<ExecOutput, ShellError> {
    let Some(first) = words.first() else {
        return list(ctx, family, musl, &[]);
    };
    let commands = [
        "add", "change", "chg", "replace", "delete", "list", "show", "lst", "flush",
    ];
    match index_in_substrings(&commands, first) {
        None => invalid_argument(first, "ip"),
        Some(5..=7) => list(ctx, family, musl, &words[1..]),
        // Changing addresses needs CAP_NET_ADMIN, which a pod does not have by default.
        Some(_) => nm(&format!("address {first}")),
    }
}

/// `do_iplink`: `show` lists the links only (`ipaddr_list_link`).
fn link(ctx: &Ctx<'_>, musl: bool, words: &[&str]) -> Result<ExecOutput, ShellError> {
    let Some(first) = words.first() else {
        return list(ctx, Family::Packet, musl, &[]);
    };
    let commands = ["add", "delete", "set", "show", "lst", "list"];
    match index_in_substrings(&commands, first) {
        None => invalid_argument(first, "ip"),
        Some(3..) => list(ctx, Family::Packet, musl, &words[1..]),
        Some(_) => nm(&format!("link {first}")),
    }
}

/// The pod's device index for a name (`xll_name_to_index`).
fn device(name: &str) -> Option<u32> {
    match name {
        "lo" => Some(1),
        "eth0" => Some(2),
        _ => None,
    }
}

/// `ipaddr_list_or_flush` for listing: `[dev] IFACE` and `up` are modelled.
fn list(
    ctx: &Ctx<'_>,
    family: Family,
    musl: bool,
    words: &[&str],
) -> Result<ExecOutput, ShellError> {
    let mut dev: Option<&str> = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match *w {
            "up" => {}
            "to" | "scope" | "label" => return nm(&format!("address list {w}")),
            _ => {
                let name = if *w == "dev" {
                    match it.next() {
                        Some(n) => *n,
                        None => return incomplete(),
                    }
                } else {
                    w
                };
                if dev.is_some() {
                    return die(format!(
                        "either \"dev\" is duplicate, or \"{name}\" is garbage"
                    ));
                }
                dev = Some(name);
            }
        }
    }
    let net = PodNet::of(ctx)?;
    let only = match dev {
        Some(d) => match device(d) {
            Some(i) => Some(i),
            None => return die(format!("can't find device '{d}'")),
        },
        None => None,
    };
    let mut out = String::new();
    for index in [1, 2] {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        push_link(&mut out, &net, index, musl, family);
        if family != Family::Packet {
            push_addresses(&mut out, &net, index, family);
        }
    }
    Ok(ExecOutput::ok(out))
}

/// `print_linkinfo` for device `index`.
fn push_link(out: &mut String, net: &PodNet, index: u32, musl: bool, family: Family) {
    let with_link = matches!(family, Family::Any | Family::Packet);
    if index == 1 {
        out.push_str("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue ");
        if musl {
            out.push_str("state UNKNOWN ");
        }
        out.push_str("qlen 1000");
        if with_link {
            out.push_str("\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00");
        }
        out.push('\n');
        return;
    }
    // The peer's index, looked up among the pod's own devices.
    let (peer, m_down) = match net.peer {
        1 => ("lo".to_string(), false),
        2 => ("eth0".to_string(), false),
        n => (format!("if{n}"), true),
    };
    let m_down = if m_down { ",M-DOWN" } else { "" };
    out.push_str(&format!(
        "2: eth0@{peer}: <BROADCAST,MULTICAST,UP,LOWER_UP{m_down}> mtu 1500 qdisc noqueue "
    ));
    if musl {
        out.push_str("state UP ");
    }
    out.push_str("qlen 1000");
    if with_link {
        let mac: Vec<String> = net.mac.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!(
            "\n    link/ether {} brd ff:ff:ff:ff:ff:ff",
            mac.join(":")
        ));
    }
    out.push('\n');
}

/// `print_addrinfo` for the addresses of device `index` in `family` (IPv4 first).
fn push_addresses(out: &mut String, net: &PodNet, index: u32, family: Family) {
    let (v4, v6) = if index == 1 {
        (
            "inet 127.0.0.1/8 scope host lo".to_string(),
            "inet6 ::1/128 scope host ".to_string(),
        )
    } else {
        (
            format!(
                "inet {}/{} brd {} scope global eth0",
                net.ip,
                net.cidr.prefix,
                net.broadcast()
            ),
            format!("inet6 {}/64 scope link ", net.link_local()),
        )
    };
    let lines = match family {
        Family::Inet => vec![v4],
        Family::Inet6 => vec![v6],
        _ => vec![v4, v6],
    };
    for l in lines {
        out.push_str(&format!(
            "    {l}\n       valid_lft forever preferred_lft forever\n"
        ));
    }
}

/// `do_iproute`: list (`show`, `list`, none) and `get`.
fn route(ctx: &Ctx<'_>, family: Family, words: &[&str]) -> Result<ExecOutput, ShellError> {
    let commands = [
        "a", "add", "append", "change", "chg", "delete", "get", "list", "show", "prepend",
        "replace", "test", "flush",
    ];
    let (get, args) = match words.first() {
        None => (false, words),
        Some(first) => match index_in_substrings(&commands, first) {
            None => return invalid_argument(first, "ip"),
            Some(6) => (true, &words[1..]),
            Some(7 | 8) => (false, &words[1..]),
            Some(_) => return nm(&format!("route {first}")),
        },
    };
    if family != Family::Any && family != Family::Inet {
        return nm("route of a family other than inet");
    }
    if get {
        route_get(ctx, args)
    } else {
        route_list(ctx, args)
    }
}

/// `iproute_list_or_flush` on the main table: `dev`/`oif IFACE` and `table main` are modelled.
fn route_list(ctx: &Ctx<'_>, words: &[&str]) -> Result<ExecOutput, ShellError> {
    let keywords = [
        "protocol", "dev", "oif", "iif", "via", "table", "cache", "from", "to", "scope", "all",
        "root", "match", "exact", "main",
    ];
    let mut dev: Option<&str> = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match index_in_substrings(&keywords, w) {
            Some(1 | 2) => match it.next() {
                Some(d) => dev = Some(d),
                None => return incomplete(),
            },
            Some(5) => match it.next() {
                Some(t) if index_in_substrings(&keywords, t) == Some(14) => {}
                Some(t) => return nm(&format!("route list table {t}")),
                None => return incomplete(),
            },
            _ => return nm(&format!("route list {w}")),
        }
    }
    let net = PodNet::of(ctx)?;
    if let Some(d) = dev
        && device(d).is_none()
    {
        return die(format!("can't find device '{d}'"));
    }
    if dev == Some("lo") {
        return Ok(ExecOutput::default());
    }
    let (ip, gw) = (net.ip, net.gateway());
    Ok(ExecOutput::ok(format!(
        "default via {gw} dev eth0 \n{}/{} via {gw} dev eth0  src {ip} \n{gw} dev eth0 scope link  src {ip} \n",
        net.cidr.network, net.cidr.prefix
    )))
}

/// `iproute_get` for one IPv4 destination: the kernel's answer printed by `print_route`
/// (a cloned route, so no `scope`).
fn route_get(ctx: &Ctx<'_>, words: &[&str]) -> Result<ExecOutput, ShellError> {
    let options = ["from", "iif", "oif", "dev", "notify", "connected", "to"];
    let mut dst: Option<(Ipv4Addr, u8)> = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let arg = match options.iter().position(|o| o == w) {
            Some(6) => match it.next() {
                Some(a) => *a,
                None => return incomplete(),
            },
            Some(_) => return nm(&format!("route get {w}")),
            None => w,
        };
        if matches!(arg, "default" | "all" | "any") {
            dst = None;
            continue;
        }
        if arg.contains(':') {
            return nm("route get of an IPv6 address");
        }
        let (addr, len) = match arg.split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().ok().filter(|l| *l <= 32)),
            None => (arg, Some(32)),
        };
        match (addr.parse::<Ipv4Addr>(), len) {
            (Ok(a), Some(l)) => dst = Some((a, l)),
            _ => return die(format!("an inet prefix is expected rather than \"{arg}\"")),
        }
    }
    let Some((d, len)) = dst.filter(|(_, l)| *l > 0) else {
        return die("need at least destination address");
    };
    let net = PodNet::of(ctx)?;
    let special = d.is_loopback()
        || d.is_multicast()
        || d.is_broadcast()
        || d.is_unspecified()
        || d == net.ip
        || d == net.cidr.network
        || d == net.broadcast();
    if len != 32 || special {
        return nm(&format!("route get {d}/{len} (a local or broadcast route)"));
    }
    let ip = net.ip;
    let line = if d == net.gateway() {
        format!("{d} dev eth0  src {ip} \n")
    } else {
        format!("{d} via {} dev eth0  src {ip} \n", net.gateway())
    };
    Ok(ExecOutput::ok(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrings_match_like_busybox() {
        let objects = [
            "address", "route", "r", "link", "tunnel", "tunl", "rule", "neigh",
        ];
        assert_eq!(index_in_substrings(&objects, "a"), Some(0));
        assert_eq!(index_in_substrings(&objects, "addr"), Some(0));
        assert_eq!(index_in_substrings(&objects, "r"), Some(2));
        assert_eq!(index_in_substrings(&objects, "ro"), Some(1));
        assert_eq!(index_in_substrings(&objects, "tun"), None);
        assert_eq!(index_in_substrings(&objects, "x"), None);
        assert_eq!(index_in_substrings(&objects, ""), None);
    }

    #[test]
    fn macs_are_local_unicast_and_stable() {
        let ip = Ipv4Addr::new(10, 244, 1, 3);
        let m = mac_of(ip);
        assert_eq!(m, mac_of(ip));
        assert_eq!(m[0] & 0x03, 0x02);
        assert_ne!(m, mac_of(Ipv4Addr::new(10, 244, 1, 4)));
    }
}
