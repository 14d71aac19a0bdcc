//! The Kubernetes protobuf encoding of the request bodies kubectl 1.33's typed generators send
//! (`kubectl create namespace`, `kubectl create configmap`): the `k8s\0` magic, a
//! `runtime.Unknown` envelope, and the object in the field numbers of `k8s.io/api`'s
//! `generated.proto`. Only Namespace and ConfigMap are decoded, into the same JSON the
//! apiserver would have received; any other kind, or a field not listed here, is refused rather
//! than dropped, so nothing a learner sent is silently lost.

use serde_json::{Map, Value, json};

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\x00";

/// One field of a protobuf message: its number and its value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("varint too long".into())
}

/// The fields of a message, in order (wire types 0 and 2 only: all these messages use).
fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((number, Field::Varint(varint(buf, &mut pos)?))),
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|e| e.to_string())?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len());
                let end = end.ok_or("truncated field")?;
                out.push((number, Field::Bytes(&buf[pos..end])));
                pos = end;
            }
            other => return Err(format!("unsupported wire type {other} in field {number}")),
        }
    }
    Ok(out)
}

fn string(f: &Field) -> Result<String, String> {
    match f {
        Field::Bytes(b) => String::from_utf8(b.to_vec()).map_err(|e| e.to_string()),
        Field::Varint(_) => Err("expected a string".into()),
    }
}

fn bytes<'a>(f: &Field<'a>) -> Result<&'a [u8], String> {
    match f {
        Field::Bytes(b) => Ok(b),
        Field::Varint(_) => Err("expected a message".into()),
    }
}

/// A `map<string, string>` entry (key 1, value 2).
fn map_entry(buf: &[u8]) -> Result<(String, String), String> {
    let (mut k, mut v) = (String::new(), String::new());
    for (n, f) in fields(buf)? {
        match n {
            1 => k = string(&f)?,
            2 => v = string(&f)?,
            _ => return Err(format!("unexpected map entry field {n}")),
        }
    }
    Ok((k, v))
}

fn insert_entry(obj: &mut Map<String, Value>, name: &str, buf: &[u8]) -> Result<(), String> {
    let (k, v) = map_entry(buf)?;
    let slot = obj.entry(name).or_insert_with(|| json!({}));
    if let Value::Object(m) = slot {
        m.insert(k, Value::String(v));
    }
    Ok(())
}

/// `ObjectMeta`: the fields a create request carries (server-set ones are ignored upstream too).
fn object_meta(buf: &[u8]) -> Result<Value, String> {
    let mut m = Map::new();
    for (n, f) in fields(buf)? {
        match n {
            1 => m.insert("name".into(), string(&f)?.into()),
            2 => m.insert("generateName".into(), string(&f)?.into()),
            3 => m.insert("namespace".into(), string(&f)?.into()),
            11 => {
                insert_entry(&mut m, "labels", bytes(&f)?)?;
                None
            }
            12 => {
                insert_entry(&mut m, "annotations", bytes(&f)?)?;
                None
            }
            6 => {
                let rv = string(&f)?;
                if rv.is_empty() {
                    None
                } else {
                    m.insert("resourceVersion".into(), rv.into())
                }
            }
            14 => {
                let slot = m.entry("finalizers").or_insert_with(|| json!([]));
                if let Value::Array(a) = slot {
                    a.push(string(&f)?.into());
                }
                None
            }
            // Go's encoder writes every non-pointer field, set or not: selfLink, uid,
            // generation, the timestamps, clusterName, managedFields. The server sets these
            // on create, as the apiserver does, so they are dropped.
            4 | 5 | 7 | 8 | 9 | 10 | 15 | 17 => None,
            _ => {
                return Err(format!(
                    "ObjectMeta field {n} is not supported in protobuf bodies"
                ));
            }
        };
    }
    Ok(Value::Object(m))
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn object(kind: &str, api_version: &str, raw: &[u8]) -> Result<Value, String> {
    let mut o = Map::new();
    o.insert("apiVersion".into(), api_version.into());
    o.insert("kind".into(), kind.into());
    for (n, f) in fields(raw)? {
        match (kind, n) {
            (_, 1) => {
                o.insert("metadata".into(), object_meta(bytes(&f)?)?);
            }
            ("Namespace", 2) => {
                let mut finalizers = Vec::new();
                for (sn, sf) in fields(bytes(&f)?)? {
                    match sn {
                        1 => finalizers.push(Value::String(string(&sf)?)),
                        _ => return Err(format!("NamespaceSpec field {sn} is not supported")),
                    }
                }
                let spec = if finalizers.is_empty() {
                    json!({})
                } else {
                    json!({"finalizers": finalizers})
                };
                o.insert("spec".into(), spec);
            }
            // An empty status is what kubectl sends; the server sets it anyway.
            ("Namespace", 3) => {}
            ("ConfigMap", 2) => insert_entry(&mut o, "data", bytes(&f)?)?,
            ("ConfigMap", 3) => {
                let mut key = String::new();
                let mut value = Vec::new();
                for (sn, sf) in fields(bytes(&f)?)? {
                    match sn {
                        1 => key = string(&sf)?,
                        2 => value = bytes(&sf)?.to_vec(),
                        _ => return Err(format!("unexpected map entry field {sn}")),
                    }
                }
                let slot = o.entry("binaryData").or_insert_with(|| json!({}));
                if let Value::Object(m) = slot {
                    m.insert(key, Value::String(base64(&value)));
                }
            }
            ("ConfigMap", 4) => {
                let Field::Varint(v) = f else {
                    return Err("immutable must be a bool".into());
                };
                o.insert("immutable".into(), Value::Bool(v != 0));
            }
            _ => {
                return Err(format!(
                    "{kind} field {n} is not supported in protobuf bodies"
                ));
            }
        }
    }
    Ok(Value::Object(o))
}

/// Decodes a protobuf request body into the JSON object it encodes; the error says why not.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the Kubernetes protobuf magic")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    for (n, f) in fields(envelope)? {
        match n {
            1 => {
                for (tn, tf) in fields(bytes(&f)?)? {
                    match tn {
                        1 => api_version = string(&tf)?,
                        2 => kind = string(&tf)?,
                        _ => {}
                    }
                }
            }
            2 => raw = Some(bytes(&f)?),
            // contentEncoding and contentType: empty for plain protobuf.
            _ => {}
        }
    }
    let raw = raw.ok_or("the protobuf envelope has no object")?;
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace" | "ConfigMap") => object(&kind, &api_version, raw),
        _ => Err(format!(
            "protobuf bodies are decoded for v1 Namespace and ConfigMap only, not {api_version} {kind}; send JSON"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3 | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), field(1, &type_meta), field(2, raw)].concat()
    }

    #[test]
    fn namespace_and_config_map() {
        let meta = [
            field(1, b"lab"),
            field(4, b""),
            field(5, b""),
            field(6, b""),
            vec![7 << 3, 0],
            field(8, b""),
            field(11, &[field(1, b"team"), field(2, b"a")].concat()),
        ]
        .concat();
        let ns = envelope(
            "v1",
            "Namespace",
            &[field(1, &meta), field(2, b""), field(3, b"")].concat(),
        );
        assert_eq!(
            decode(&ns).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab", "labels": {"team": "a"}}, "spec": {}})
        );
        let cm = envelope(
            "v1",
            "ConfigMap",
            &[
                field(1, &field(1, b"cfg")),
                field(2, &[field(1, b"a"), field(2, b"b")].concat()),
                field(3, &[field(1, b"bin"), field(2, b"hi!")].concat()),
                vec![4 << 3, 1],
            ]
            .concat(),
        );
        assert_eq!(
            decode(&cm).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}, "binaryData": {"bin": "aGkh"}, "immutable": true})
        );
    }

    #[test]
    fn other_kinds_unknown_fields_and_garbage_are_refused() {
        let svc = envelope("v1", "Service", &field(1, &field(1, b"x")));
        assert!(decode(&svc).unwrap_err().contains("v1 Service"));
        // ownerReferences (13) are not decoded.
        let odd = envelope("v1", "Namespace", &field(1, &field(13, b"x")));
        assert!(decode(&odd).is_err());
        assert!(decode(b"{}").is_err());
        assert!(decode(b"k8s\x00\x0a\xff").is_err());
        assert!(decode(b"k8s\x00\x0a").is_err());
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
