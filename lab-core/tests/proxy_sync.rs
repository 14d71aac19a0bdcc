//! Partial syncs never drift: a [`Proxier`] fed random changes one sync at a time holds exactly
//! the rules a fresh full render of the final objects gives, in every mode, and the partial
//! payloads it produced, applied in order to a model of the kernel (`iptables-restore
//! --noflush`; an nftables table), leave the same rules as the full render's payload.

mod proxy_support;

use lab_core::proxy::sync::{Proxier, ProxierMode};
use lab_core::proxy::{ProxySnapshot, iptables, ipvs, nftables};
use proptest::prelude::*;
use proxy_support::{NODES, Rng, mutate, snapshot};
use std::collections::BTreeMap;

/// `iptables-restore --noflush`: a declared chain is created or flushed, `-A` appends, `-X`
/// deletes; chains not mentioned keep their rules.
#[derive(Default, Debug, PartialEq)]
struct IptablesKernel {
    tables: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl IptablesKernel {
    fn restore(&mut self, text: &str) {
        let mut table = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_string();
            } else if let Some(c) = line.strip_prefix(':') {
                let chain = c.split(' ').next().unwrap_or("").to_string();
                self.tables
                    .entry(table.clone())
                    .or_default()
                    .insert(chain, Vec::new());
            } else if let Some(rest) = line.strip_prefix("-A ") {
                let chain = rest.split(' ').next().unwrap_or("").to_string();
                let t = self.tables.entry(table.clone()).or_default();
                assert!(
                    t.contains_key(&chain),
                    "rule for undeclared chain {chain}: {line}"
                );
                t.entry(chain).or_default().push(line.to_string());
            } else if let Some(chain) = line.strip_prefix("-X ") {
                let t = self.tables.entry(table.clone()).or_default();
                assert_eq!(
                    t.get(chain).map(Vec::len),
                    Some(0),
                    "-X of a non-empty chain"
                );
                t.remove(chain);
            }
        }
    }
}

/// An nftables table: chains with rules, sets and maps with elements (key → full text).
#[derive(Default, Debug, PartialEq)]
struct NftKernel {
    chains: BTreeMap<String, Vec<String>>,
    sets: BTreeMap<String, BTreeMap<String, String>>,
}

const T: &str = "ip kube-proxy ";

impl NftKernel {
    fn run(&mut self, tx: &str) {
        for line in tx.lines() {
            let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
            let (what, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let rest = rest.strip_prefix(T).unwrap_or(rest);
            let (name, body) = rest.split_once(' ').unwrap_or((rest, ""));
            match (verb, what) {
                ("add", "table") => {}
                ("delete", "table") => *self = NftKernel::default(),
                ("add", "chain") => {
                    self.chains.entry(name.to_string()).or_default();
                }
                ("flush", "chain") => {
                    self.chains
                        .get_mut(name)
                        .expect("flush of a missing chain")
                        .clear();
                }
                ("delete", "chain") => {
                    let c = self.chains.remove(name).expect("delete of a missing chain");
                    assert!(c.is_empty(), "delete of a non-empty chain {name}");
                }
                ("add", "rule") => self
                    .chains
                    .get_mut(name)
                    .expect("rule in a missing chain")
                    .push(body.to_string()),
                ("add", "set" | "map") => {
                    self.sets.entry(name.to_string()).or_default();
                }
                ("delete", "set" | "map") => {
                    self.sets.remove(name).expect("delete of a missing set");
                }
                ("add", "element") => {
                    let elem = body.trim_start_matches("{ ").trim_end_matches(" }");
                    let key = elem.split([':']).next().unwrap_or("");
                    let key = key
                        .split(" comment ")
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    let set = self.sets.get_mut(name).expect("element of a missing set");
                    assert!(!set.contains_key(&key), "add of an existing element {key}");
                    set.insert(key, elem.to_string());
                }
                ("delete", "element") => {
                    let key = body
                        .trim_start_matches("{ ")
                        .trim_end_matches(" }")
                        .to_string();
                    let set = self.sets.get_mut(name).expect("element of a missing set");
                    assert!(
                        set.remove(&key).is_some(),
                        "delete of a missing element {key}"
                    );
                }
                _ => panic!("unexpected nft line {line}"),
            }
        }
    }
}

fn modes() -> Vec<ProxierMode> {
    vec![
        ProxierMode::Iptables(iptables::IptablesOptions::kind()),
        ProxierMode::Ipvs(ipvs::IpvsOptions::default()),
        ProxierMode::Nftables(nftables::NftablesOptions::kind()),
    ]
}

/// Syncs `steps` random changes and checks the state and the payloads after each.
fn check(seed: u64, services: usize, steps: usize) {
    let mut rng = Rng::new(seed);
    let mut snap: ProxySnapshot = snapshot(&mut rng, services);
    let node = NODES[(seed % 3) as usize];
    let mut proxiers: Vec<Proxier> = modes().into_iter().map(|m| Proxier::new(node, m)).collect();
    let mut ipt_kernel = IptablesKernel::default();
    let mut nft_kernel = NftKernel::default();
    for step in 0..steps {
        for p in &mut proxiers {
            let r = p.sync(&snap).expect("node exists");
            let ctx = format!("seed {seed} step {step} {:?}", p.mode());
            match p.mode().clone() {
                ProxierMode::Iptables(o) => {
                    let full = iptables::render(&snap, node, &o).unwrap();
                    assert_eq!(p.iptables_rules().unwrap(), full, "{ctx}");
                    if r.full {
                        ipt_kernel = IptablesKernel::default();
                    }
                    ipt_kernel.restore(&r.payload);
                    let mut fresh = IptablesKernel::default();
                    fresh.restore(&full.restore_text());
                    assert_eq!(ipt_kernel, fresh, "{ctx}\n{}", r.payload);
                }
                ProxierMode::Ipvs(o) => {
                    let full = ipvs::render(&snap, node, &o).unwrap();
                    assert_eq!(p.ipvs_state().unwrap(), full, "{ctx}");
                }
                ProxierMode::Nftables(o) => {
                    let full = nftables::render(&snap, node, &o).unwrap();
                    let mine = p.nftables_rules().unwrap();
                    assert_eq!(mine.list_text(), full.list_text(), "{ctx}");
                    assert_eq!(mine.transaction_text(), full.transaction_text(), "{ctx}");
                    nft_kernel.run(&r.cleanup);
                    nft_kernel.run(&r.payload);
                    let mut fresh = NftKernel::default();
                    fresh.run(&full.transaction_text());
                    // Chains flushed by this sync are deleted by the next one.
                    let mut now = NftKernel {
                        chains: nft_kernel.chains.clone(),
                        sets: nft_kernel.sets.clone(),
                    };
                    now.chains
                        .retain(|k, v| !v.is_empty() || fresh.chains.contains_key(k));
                    assert_eq!(
                        now, fresh,
                        "{ctx}\ncleanup:\n{}\npayload:\n{}",
                        r.cleanup, r.payload
                    );
                }
            }
            // Nothing changed since: an empty diff.
            let again = p.sync(&snap).unwrap();
            assert!(again.changes.is_empty(), "{ctx}: {:?}", again.changes);
            if let ProxierMode::Nftables(_) = p.mode() {
                nft_kernel.run(&again.cleanup);
                nft_kernel.run(&again.payload);
            }
        }
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut snap);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn incremental_syncs_equal_full_renders(seed in any::<u64>(), services in 1usize..10) {
        check(seed, services, 8);
    }
}

#[test]
fn large_cluster_mode_flips_rerender_everything() {
    // 210 services × up to 8 endpoints crosses kube-proxy's 1000-endpoint threshold as
    // endpoints come and go.
    check(7, 210, 6);
}
