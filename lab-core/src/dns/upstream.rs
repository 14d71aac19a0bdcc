//! The world outside the cluster, as CoreDNS's `forward . /etc/resolv.conf` sees it.
//!
//! A real cluster forwards every name outside `cluster.local` (and reverse names the
//! `kubernetes` plugin does not know) to the node's resolver. The simulator never sends a packet
//! anywhere: "upstream" is a small table of names kept in the cluster's configuration (so it is
//! part of every [`Snapshot`](crate::snapshot::Snapshot)), with documentation addresses only
//! (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24). Labs may add names. Anything not in
//! the table is NXDOMAIN with the root zone's SOA in the authority section, as a public resolver
//! answers for a nonexistent TLD such as the `default.` of `httpd-svc.default.`.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One record of the upstream world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum UpstreamRecord {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    #[allow(clippy::upper_case_acronyms)]
    AAAA(Ipv6Addr),
    /// An alias to another name (absolute, without the trailing dot).
    #[allow(clippy::upper_case_acronyms)]
    CNAME(String),
    /// A text record.
    #[allow(clippy::upper_case_acronyms)]
    TXT(String),
}

/// The upstream table: lower-case names without the trailing dot → their records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// The names the upstream resolver knows.
    pub names: BTreeMap<String, Vec<UpstreamRecord>>,
}

impl Default for Upstream {
    /// `www.example.com` → 192.0.2.10 and `example.com` → 192.0.2.10: enough for "a name outside
    /// the cluster resolves" and for the ndots walk of a two-dot name.
    fn default() -> Self {
        let mut names = BTreeMap::new();
        for n in ["example.com", "www.example.com"] {
            names.insert(
                n.to_string(),
                vec![UpstreamRecord::A(Ipv4Addr::new(192, 0, 2, 10))],
            );
        }
        Upstream { names }
    }
}

/// The reply of the upstream resolver: recursion available, not authoritative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamReply {
    /// NOERROR or NXDOMAIN.
    pub rcode: ResponseCode,
    /// Answer records (TTLs already capped by CoreDNS's cache).
    pub answers: Vec<Record>,
    /// The root SOA for negative answers.
    pub authority: Vec<Record>,
}

/// CoreDNS's `cache 30` rewrites every forwarded record's TTL on a miss to min(ttl, 30).
pub const CACHE_CAP_TTL: u32 = 30;

/// Serial of the simulated root zone's SOA (the root's serials are YYYYMMDDnn).
pub const ROOT_SOA_SERIAL: u32 = 2026010100;

/// The root zone's SOA, as a public resolver returns it in negative answers (TTL capped to 30
/// by the cluster's cache).
pub fn root_soa() -> Record {
    let name = |s: &str| Name::from_ascii(s).expect("static name");
    Record::from_rdata(
        Name::root(),
        CACHE_CAP_TTL,
        RData::SOA(SOA::new(
            name("a.root-servers.net."),
            name("nstld.verisign-grs.com."),
            ROOT_SOA_SERIAL,
            1800,
            900,
            604800,
            86400,
        )),
    )
}

impl Upstream {
    /// Adds a record (labs use this for their own external names).
    pub fn insert(&mut self, name: &str, record: UpstreamRecord) {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        self.names.entry(key).or_default().push(record);
    }

    /// What the upstream resolver answers for `qname`/`qtype`. Owner names keep the query's
    /// case; CNAME chains inside the table are followed (at most 8 steps).
    pub fn resolve(&self, qname: &Name, qtype: RecordType) -> UpstreamReply {
        let mut answers = Vec::new();
        let mut owner = qname.clone();
        for _ in 0..8 {
            let key = owner.to_ascii().trim_end_matches('.').to_ascii_lowercase();
            let Some(records) = self.names.get(&key) else {
                // The chain's first name missing is NXDOMAIN; a dangling alias keeps the CNAME.
                let rcode = if answers.is_empty() {
                    ResponseCode::NXDomain
                } else {
                    ResponseCode::NoError
                };
                return UpstreamReply {
                    rcode,
                    answers,
                    authority: vec![root_soa()],
                };
            };
            let alias = records.iter().find_map(|r| match r {
                UpstreamRecord::CNAME(t) => Some(t.clone()),
                _ => None,
            });
            match alias {
                Some(target) if qtype != RecordType::CNAME => {
                    let Ok(mut target_name) = Name::from_ascii(&target) else {
                        break;
                    };
                    target_name.set_fqdn(true);
                    answers.push(Record::from_rdata(
                        owner.clone(),
                        CACHE_CAP_TTL,
                        RData::CNAME(CNAME(target_name.clone())),
                    ));
                    owner = target_name;
                }
                _ => {
                    answers.extend(records.iter().filter_map(|r| {
                        let data = match (r, qtype) {
                            (UpstreamRecord::A(ip), RecordType::A) => RData::A(A(*ip)),
                            (UpstreamRecord::AAAA(ip), RecordType::AAAA) => RData::AAAA(AAAA(*ip)),
                            (UpstreamRecord::CNAME(t), RecordType::CNAME) => {
                                let mut n = Name::from_ascii(t).ok()?;
                                n.set_fqdn(true);
                                RData::CNAME(CNAME(n))
                            }
                            (UpstreamRecord::TXT(t), RecordType::TXT) => {
                                RData::TXT(TXT::new(vec![t.clone()]))
                            }
                            _ => return None,
                        };
                        Some(Record::from_rdata(owner.clone(), CACHE_CAP_TTL, data))
                    }));
                    let authority = if answers.is_empty() {
                        vec![root_soa()]
                    } else {
                        vec![]
                    };
                    return UpstreamReply {
                        rcode: ResponseCode::NoError,
                        answers,
                        authority,
                    };
                }
            }
        }
        // A CNAME loop: what a resolver reports as a server failure.
        UpstreamReply {
            rcode: ResponseCode::ServFail,
            answers: vec![],
            authority: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn known_name_answers_with_capped_ttl_and_keeps_case() {
        let r = Upstream::default().resolve(&n("WWW.Example.com."), RecordType::A);
        assert_eq!(r.rcode, ResponseCode::NoError);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].name.to_ascii(), "WWW.Example.com.");
        assert_eq!(r.answers[0].ttl, 30);
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(192, 0, 2, 10))));
    }

    #[test]
    fn unknown_name_is_nxdomain_with_root_soa() {
        let r = Upstream::default().resolve(&n("httpd-svc.default."), RecordType::A);
        assert_eq!(r.rcode, ResponseCode::NXDomain);
        assert!(r.answers.is_empty());
        assert_eq!(r.authority[0].name, Name::root());
        assert_eq!(r.authority[0].record_type(), RecordType::SOA);
    }

    #[test]
    fn missing_type_is_nodata_and_cname_chains_are_followed() {
        let mut u = Upstream::default();
        let r = u.resolve(&n("www.example.com."), RecordType::AAAA);
        assert_eq!(r.rcode, ResponseCode::NoError);
        assert!(r.answers.is_empty());
        assert_eq!(r.authority.len(), 1);
        u.insert(
            "alias.example.org",
            UpstreamRecord::CNAME("www.example.com".into()),
        );
        let r = u.resolve(&n("alias.example.org."), RecordType::A);
        assert_eq!(r.answers.len(), 2);
        assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
        assert_eq!(r.answers[1].name.to_ascii(), "www.example.com.");
        u.insert(
            "loop.example.org",
            UpstreamRecord::CNAME("loop.example.org".into()),
        );
        assert_eq!(
            u.resolve(&n("loop.example.org."), RecordType::A).rcode,
            ResponseCode::ServFail
        );
    }
}
