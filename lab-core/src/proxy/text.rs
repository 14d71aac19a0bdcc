//! Allocation-free text building shared by the proxy renderers.
//!
//! kube-proxy writes its rules into one growing buffer (`proxyutil.LineBuffer`,
//! `pkg/proxy/util/linebuffer.go`) instead of building each rule as a list of strings; these
//! helpers do the same for the simulator: numbers, addresses and endpoints go straight into a
//! `String`, without `format!`.

use std::cmp::Ordering;
use std::net::Ipv4Addr;

/// Appends `n` in decimal.
pub(crate) fn push_u32(s: &mut String, n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written, so this never fails.
    s.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Appends `ip` in dotted-quad form.
pub(crate) fn push_ip(s: &mut String, ip: Ipv4Addr) {
    let [a, b, c, d] = ip.octets();
    push_u32(s, a.into());
    s.push('.');
    push_u32(s, b.into());
    s.push('.');
    push_u32(s, c.into());
    s.push('.');
    push_u32(s, d.into());
}

/// Appends `ip:port`, the endpoint string kube-proxy sorts, hashes and prints.
pub(crate) fn push_endpoint(s: &mut String, ip: Ipv4Addr, port: u16) {
    push_ip(s, ip);
    s.push(':');
    push_u32(s, port.into());
}

/// An endpoint string (`IP:port`, at most 21 bytes) kept on the stack, ordered as plain strings
/// order (so `10.244.1.10:80` < `10.244.1.7:80`, as kube-proxy sorts endpoints).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EndpointKey {
    len: u8,
    bytes: [u8; 21],
}

impl EndpointKey {
    pub(crate) fn new(ip: Ipv4Addr, port: u16) -> EndpointKey {
        let mut s = String::with_capacity(21);
        push_endpoint(&mut s, ip, port);
        let mut bytes = [0u8; 21];
        let n = s.len().min(bytes.len());
        bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        EndpointKey {
            len: n as u8,
            bytes,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl PartialEq for EndpointKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for EndpointKey {}

impl PartialOrd for EndpointKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EndpointKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_addresses_and_endpoint_order() {
        let mut s = String::new();
        push_u32(&mut s, 0);
        s.push(' ');
        push_u32(&mut s, u32::MAX);
        s.push(' ');
        push_endpoint(&mut s, Ipv4Addr::new(255, 255, 255, 255), 65535);
        assert_eq!(s, "0 4294967295 255.255.255.255:65535");
        let a = EndpointKey::new(Ipv4Addr::new(10, 244, 1, 10), 80);
        let b = EndpointKey::new(Ipv4Addr::new(10, 244, 1, 7), 80);
        assert!(a < b, "string order, not numeric");
        assert_eq!(a.as_bytes(), b"10.244.1.10:80");
        assert_eq!(a, EndpointKey::new(Ipv4Addr::new(10, 244, 1, 10), 80));
    }
}
