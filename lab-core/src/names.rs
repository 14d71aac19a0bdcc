//! Generated names, as `k8s.io/apimachinery/pkg/util/rand` and the controllers produce them:
//! `generateName` suffixes (`httpd-7c9d6b8f4-x2k8q`), `pod-template-hash` values (`7c9d6b8f4`).

use rand::Rng;

/// The alphabet of `utilrand.String` and `SafeEncodeString`: no vowels (no words), no 0/1/3
/// (no look-alikes).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Longest prefix kept before the random suffix (`MaxGeneratedNameLength` = 63 - 5).
const MAX_GENERATED_PREFIX: usize = 58;

/// `names.SimpleNameGenerator.GenerateName`: the prefix (truncated to 58) plus 5 random characters.
pub fn generate_name(rng: &mut impl Rng, prefix: &str) -> String {
    let mut name: String = prefix.chars().take(MAX_GENERATED_PREFIX).collect();
    for _ in 0..5 {
        name.push(ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char);
    }
    name
}

/// `rand.SafeEncodeString`: maps each byte onto the safe alphabet.
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// Lower-case hex of `bytes` (UIDs, container IDs).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// FNV-1a, 32 bits (Go's `hash/fnv.New32a`), which `controller.ComputeHash` uses.
pub fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1, 32 bits (Go's `hash/fnv.New32`), which `history.HashControllerRevision` uses: the
/// StatefulSet controller's revisions hash with FNV-1, Deployments' templates with FNV-1a.
pub fn fnv32(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h = h.wrapping_mul(0x0100_0193);
        h ^= *b as u32;
    }
    h
}

/// `controller.ComputeHash(template, collisionCount)`: the pod-template-hash label value.
/// Go hashes a spew dump of the struct; we hash its canonical JSON, so values differ from a real
/// cluster's but have the same shape and the same property: same template → same hash.
pub fn pod_template_hash(template_json: &[u8], collision_count: i32) -> String {
    let mut data = template_json.to_vec();
    if collision_count > 0 {
        data.extend_from_slice(&(collision_count as u32).to_le_bytes());
    }
    safe_encode(&fnv32a(&data).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shapes() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = generate_name(&mut rng, "httpd-7c9d6b8f4-");
        assert_eq!(n.len(), "httpd-7c9d6b8f4-".len() + 5);
        assert!(n[16..].bytes().all(|b| ALPHANUMS.contains(&b)));
        assert_eq!(fnv32a(b"hello"), 0x4f9f_2cab);
        // Go: fnv.New32().Write([]byte("hello")) → 0xb6fa7167.
        assert_eq!(fnv32(b"hello"), 0xb6fa_7167);
        let h = pod_template_hash(b"{}", 0);
        assert!(h.len() >= 9 && h.len() <= 10, "{h}");
        assert_ne!(h, pod_template_hash(b"{}", 1));
        assert_eq!(generate_name(&mut rng, &"x".repeat(70)).len(), 63);
    }
}
