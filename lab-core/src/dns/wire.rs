//! DNS messages on the wire: a query packet in, a response packet out.
//!
//! What a CoreDNS server does around its plugins (`core/dnsserver/server.go` and miekg/dns's
//! server loop): a packet that does not parse gets FORMERR with the query's ID (or is dropped when
//! not even the header is there), responses are never answered, opcodes other than QUERY get
//! NOTIMP, a message without exactly one question gets FORMERR, non-IN classes are refused. The
//! reply echoes the question and the `rd` flag, mirrors the client's EDNS(0) buffer size, and over
//! UDP is cut to what the client accepts (512 bytes without EDNS) with the TC bit set, so the
//! client retries over TCP.

use super::{Answer, DnsSnapshot};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};

/// The transport a query came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: replies are limited to the client's buffer size.
    Udp,
    /// TCP: replies up to 65,535 bytes.
    Tcp,
}

/// The classic UDP payload limit without EDNS(0).
pub const UDP_DEFAULT_PAYLOAD: usize = 512;

/// A response header carrying only an ID, opcode and rcode (FORMERR for unparsable queries).
fn header_only(id: u16, op_code: OpCode, rd: bool, rcode: ResponseCode) -> Vec<u8> {
    let mut m = Message::error_msg(id, op_code, rcode);
    m.metadata.recursion_desired = rd;
    m.to_vec().unwrap_or_default()
}

/// Builds the response message for a parsed query and an answer.
pub fn response(query: &Message, answer: &Answer) -> Message {
    let mut m = Message::response(query.metadata.id, query.metadata.op_code);
    m.metadata.message_type = MessageType::Response;
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = answer.recursion_available;
    m.metadata.authoritative = answer.authoritative;
    m.metadata.response_code = answer.rcode;
    m.add_queries(query.queries.iter().cloned());
    m.insert_answers(answer.answers.clone());
    m.insert_authorities(answer.authority.clone());
    m.insert_additionals(answer.additional.clone());
    if let Some(q) = &query.edns {
        let mut e = Edns::new();
        e.set_max_payload(q.max_payload().max(UDP_DEFAULT_PAYLOAD as u16));
        e.set_dnssec_ok(q.flags().dnssec_ok);
        m.set_edns(e);
    }
    m
}

/// Drops records from the end (additional, then authority, then answers) until the message fits
/// in `limit` bytes; sets TC when answer or authority records had to go.
fn truncate_to(mut m: Message, limit: usize) -> Vec<u8> {
    let fits = |m: &Message| m.to_vec().map(|b| b.len() <= limit).unwrap_or(false);
    // The common case encodes once.
    if let Ok(bytes) = m.to_vec()
        && bytes.len() <= limit
    {
        return bytes;
    }
    while !m.additionals.is_empty() && !fits(&m) {
        m.additionals.pop();
    }
    let mut cut = false;
    while !fits(&m) {
        if m.authorities.pop().is_some() || m.answers.pop().is_some() {
            cut = true;
        } else {
            break;
        }
    }
    m.metadata.truncation = cut || !fits(&m);
    m.to_vec().unwrap_or_default()
}

/// Answers one query packet. `None` means "send nothing" (not even a header to reply to, or the
/// packet is itself a response).
pub fn handle(snapshot: &DnsSnapshot, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
    if packet.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let is_response = packet[2] & 0x80 != 0;
    let op_code = OpCode::from_u8((packet[2] >> 3) & 0x0f);
    let rd = packet[2] & 0x01 != 0;
    if is_response {
        return None;
    }
    let query = match Message::from_vec(packet) {
        Ok(q) => q,
        Err(_) => return Some(header_only(id, op_code, rd, ResponseCode::FormErr)),
    };
    if query.metadata.op_code != OpCode::Query {
        return Some(header_only(
            id,
            query.metadata.op_code,
            rd,
            ResponseCode::NotImp,
        ));
    }
    let [q]: &[Query; 1] = match query.queries.as_slice().try_into() {
        Ok(q) => q,
        Err(_) => return Some(header_only(id, op_code, rd, ResponseCode::FormErr)),
    };
    let answer = if q.query_class != DNSClass::IN {
        Answer {
            rcode: ResponseCode::Refused,
            authoritative: false,
            recursion_available: false,
            answers: vec![],
            authority: vec![],
            additional: vec![],
        }
    } else {
        snapshot.lookup(&q.name, q.query_type)
    };
    let m = response(&query, &answer);
    let limit = match transport {
        Transport::Tcp => u16::MAX as usize,
        Transport::Udp => query
            .edns
            .as_ref()
            .map_or(UDP_DEFAULT_PAYLOAD, |e| e.max_payload() as usize)
            .max(UDP_DEFAULT_PAYLOAD),
    };
    Some(truncate_to(m, limit))
}

/// Records of a decoded response, for front ends that show a message.
pub fn all_records(m: &Message) -> impl Iterator<Item = &Record> {
    m.answers.iter().chain(&m.authorities).chain(&m.additionals)
}
