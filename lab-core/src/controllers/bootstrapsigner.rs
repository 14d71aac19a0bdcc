//! kube-controller-manager's bootstrapsigner (`pkg/controller/bootstrap/bootstrapsigner.go`)
//! and kubeadm's `cluster-info` ConfigMap in `kube-public`: the cluster CA and apiserver address
//! a joining node trusts once the ConfigMap's `jws-kubeconfig-<token id>` signature checks out
//! with its bootstrap token. The sim has no Secrets, so the signer is not a running loop: kind's
//! one bootstrap token (`abcdef.0123456789abcdef`) signs the fixed kubeconfig when the cluster
//! is made, as the controller does within a second of kubeadm creating the ConfigMap.
//! The signature is the detached JWS of `k8s.io/cluster-bootstrap/token/jws`
//! (`ComputeDetachedSignature`): HS256 keyed with the token secret, payload left out.

use super::root_ca_cert_publisher::CLUSTER_CA_PEM;
use sha2::{Digest, Sha256};

/// The ConfigMap's name (`bootstrapapi.ConfigMapClusterInfo`).
pub const CLUSTER_INFO: &str = "cluster-info";
/// kind's bootstrap token id and secret.
const TOKEN_ID: &str = "abcdef";
const TOKEN_SECRET: &str = "0123456789abcdef";

/// RFC 4648 base64, with padding (`url`: the URL-safe alphabet, unpadded, as JWS uses).
fn base64(data: &[u8], url: bool) -> String {
    let alphabet: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if !url {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

/// HMAC-SHA256 (RFC 2104) of `data` with `key` (shorter than the 64-byte block).
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |b: u8| block.map(|k| k ^ b);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// `ComputeDetachedSignature`: `<header>..<signature>`, the header `{"alg":"HS256","kid":<id>}`.
fn detached_signature(content: &str, token_id: &str, token_secret: &str) -> String {
    let header = base64(
        format!(r#"{{"alg":"HS256","kid":"{token_id}"}}"#).as_bytes(),
        true,
    );
    let signing_input = format!("{header}.{}", base64(content.as_bytes(), true));
    let sig = hmac_sha256(token_secret.as_bytes(), signing_input.as_bytes());
    format!("{header}..{}", base64(&sig, true))
}

/// The kubeconfig kubeadm publishes (`clientcmd.Write` of admin.conf's cluster, unnamed).
pub fn cluster_info_kubeconfig() -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://kind-control-plane:6443\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n",
        base64(CLUSTER_CA_PEM.as_bytes(), false)
    )
}

/// The `cluster-info` data: `kubeconfig` and the bootstrap token's `jws-kubeconfig-abcdef`.
pub fn cluster_info_data() -> Vec<(String, String)> {
    let kubeconfig = cluster_info_kubeconfig();
    vec![
        (
            format!("jws-kubeconfig-{TOKEN_ID}"),
            detached_signature(&kubeconfig, TOKEN_ID, TOKEN_SECRET),
        ),
        ("kubeconfig".into(), kubeconfig),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, std, url) in [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes(), false), std);
            assert_eq!(base64(plain.as_bytes(), true), url);
        }
        assert_eq!(base64(&[0xfb, 0xff], false), "+/8=");
        assert_eq!(base64(&[0xfb, 0xff], true), "-_8");
    }

    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        assert_eq!(
            crate::names::hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn cluster_info_is_signed_with_kinds_bootstrap_token() {
        let data = cluster_info_data();
        assert_eq!(data[0].0, "jws-kubeconfig-abcdef");
        // Computed independently (Python hmac/base64) over the same kubeconfig.
        assert_eq!(
            data[0].1,
            "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..vmIl-MNsmIvw7RWRPjcc9JQvw_w_MSiq1_CAt_Whs5s"
        );
        let kubeconfig = &data[1].1;
        assert!(kubeconfig.contains(
            "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSURCVENDQWUy"
        ));
        assert!(kubeconfig.ends_with("preferences: {}\nusers: null\n"));
    }
}
