//! A consumer group as the coordinator describes it (Kafka protocol `FindCoordinator` v0 and
//! `DescribeGroups` v0), read over a plain TCP connection.
//!
//! librdkafka only offers group descriptions through `rd_kafka_list_groups`, which starts with
//! `ListGroups`; tansu 0.6.0's in-memory engine answers that with no groups at all (see
//! [`crate::quirks`]), so the membership watchdog ([`crate::membership`]) asks the coordinator
//! directly. Both requests are the oldest versions every broker accepts. Only the `PLAINTEXT`
//! security protocol is spoken here; with TLS or SASL the watchdog relies on the broker's own
//! group coordinator (Apache Kafka's has no such fault) and says so once at start-up.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::membership::{GroupView, MemberView};
use crate::{BusError, KafkaSettings, SecurityProtocol};

const API_FIND_COORDINATOR: i16 = 10;
const API_DESCRIBE_GROUPS: i16 = 15;
/// Largest response accepted (a group description is a few kilobytes).
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// Whether a [`GroupProbe`] can speak to the brokers of `settings`.
pub fn supported(settings: &KafkaSettings) -> bool {
    settings.security_protocol == SecurityProtocol::Plaintext
}

/// Repeated descriptions of one group over one connection to its coordinator, found once and
/// looked up again only after a failure (the coordinator moved, the connection dropped).
#[derive(Debug)]
pub struct GroupProbe {
    settings: KafkaSettings,
    group: String,
    conn: Option<Conn>,
}

impl GroupProbe {
    /// A probe of `group`; nothing is connected until [`GroupProbe::describe`].
    pub fn new(settings: &KafkaSettings, group: &str) -> Self {
        Self {
            settings: settings.clone(),
            group: group.to_owned(),
            conn: None,
        }
    }

    /// The group's description, within `timeout`.
    pub fn describe(&mut self, timeout: Duration) -> Result<GroupView, BusError> {
        if let Some(conn) = &mut self.conn {
            match conn.describe_groups(&self.group) {
                Ok(v) => return Ok(v),
                Err(_) => self.conn = None,
            }
        }
        let deadline = Instant::now() + timeout;
        let mut last_err = None;
        for broker in self.settings.brokers.split(',').map(str::trim) {
            if broker.is_empty() {
                continue;
            }
            match connect_and_describe(broker, &self.group, deadline) {
                Ok((conn, v)) => {
                    self.conn = Some(conn);
                    return Ok(v);
                }
                Err(e) => last_err = Some(e),
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(last_err.unwrap_or_else(|| BusError::Config("no bootstrap broker to ask".into())))
    }
}

fn connect_and_describe(
    broker: &str,
    group: &str,
    deadline: Instant,
) -> Result<(Conn, GroupView), BusError> {
    let mut conn = Conn::open(broker, deadline)?;
    let coordinator = conn.find_coordinator(group)?;
    if coordinator != broker {
        conn = Conn::open(&coordinator, deadline)?;
    }
    let view = conn.describe_groups(group)?;
    Ok((conn, view))
}

fn io_err(what: &str, addr: &str, e: impl std::fmt::Display) -> BusError {
    BusError::GroupProbe(format!("{what} {addr}: {e}"))
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    addr: String,
    correlation: i32,
}

impl Conn {
    fn open(addr: &str, deadline: Instant) -> Result<Self, BusError> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(50));
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| io_err("resolving", addr, e))?
            .next()
            .ok_or_else(|| io_err("resolving", addr, "no address"))?;
        let stream = TcpStream::connect_timeout(&sock, left)
            .map_err(|e| io_err("connecting to", addr, e))?;
        stream
            .set_read_timeout(Some(left))
            .and_then(|()| stream.set_write_timeout(Some(left)))
            .map_err(|e| io_err("configuring", addr, e))?;
        Ok(Self {
            stream,
            addr: addr.to_owned(),
            correlation: 0,
        })
    }

    fn call(&mut self, api_key: i16, body: &[u8]) -> Result<Vec<u8>, BusError> {
        self.correlation += 1;
        let mut msg = Vec::with_capacity(body.len() + 32);
        msg.extend_from_slice(&api_key.to_be_bytes());
        msg.extend_from_slice(&0i16.to_be_bytes()); // version 0
        msg.extend_from_slice(&self.correlation.to_be_bytes());
        put_str(&mut msg, "dsync-group-probe");
        msg.extend_from_slice(body);
        let len = i32::try_from(msg.len()).map_err(|e| io_err("encoding for", &self.addr, e))?;
        let mut frame = len.to_be_bytes().to_vec();
        frame.extend_from_slice(&msg);
        self.stream
            .write_all(&frame)
            .map_err(|e| io_err("writing to", &self.addr, e))?;
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .map_err(|e| io_err("reading from", &self.addr, e))?;
        let n = usize::try_from(i32::from_be_bytes(len))
            .ok()
            .filter(|n| (4..=MAX_RESPONSE).contains(n))
            .ok_or_else(|| io_err("reading from", &self.addr, "bad response size"))?;
        let mut buf = vec![0u8; n];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| io_err("reading from", &self.addr, e))?;
        let mut r = Reader::new(&buf);
        let corr = r.i32()?;
        if corr != self.correlation {
            return Err(io_err(
                "reading from",
                &self.addr,
                "correlation id mismatch",
            ));
        }
        Ok(buf[4..].to_vec())
    }

    fn find_coordinator(&mut self, group: &str) -> Result<String, BusError> {
        let mut body = Vec::new();
        put_str(&mut body, group);
        let resp = self.call(API_FIND_COORDINATOR, &body)?;
        parse_find_coordinator(&resp)
    }

    fn describe_groups(&mut self, group: &str) -> Result<GroupView, BusError> {
        let mut body = 1i32.to_be_bytes().to_vec();
        put_str(&mut body, group);
        let resp = self.call(API_DESCRIBE_GROUPS, &body)?;
        parse_describe_groups(&resp, group)
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    let n = i16::try_from(s.len()).unwrap_or(i16::MAX);
    buf.extend_from_slice(&n.to_be_bytes());
    buf.extend_from_slice(&s.as_bytes()[..n as usize]);
}

/// `host:port` of the coordinator from a `FindCoordinator` v0 response body.
pub(crate) fn parse_find_coordinator(body: &[u8]) -> Result<String, BusError> {
    let mut r = Reader::new(body);
    let err = r.i16()?;
    if err != 0 {
        return Err(BusError::GroupProbe(format!(
            "FindCoordinator answered error code {err}"
        )));
    }
    let _node = r.i32()?;
    let host = r.string()?;
    let port = r.i32()?;
    Ok(format!("{host}:{port}"))
}

/// The group from a `DescribeGroups` v0 response body.
pub(crate) fn parse_describe_groups(body: &[u8], group: &str) -> Result<GroupView, BusError> {
    let mut r = Reader::new(body);
    let n = r.i32()?;
    for _ in 0..n.max(0) {
        let err = r.i16()?;
        let id = r.string()?;
        let state = r.string()?;
        let _protocol_type = r.string()?;
        let _protocol = r.string()?;
        let count = r.i32()?;
        let mut members = Vec::new();
        for _ in 0..count.max(0) {
            let member_id = r.string()?;
            let client_id = r.string()?;
            let _host = r.string()?;
            let _metadata = r.bytes()?;
            let assignment = r.bytes()?;
            members.push(MemberView {
                member_id,
                client_id,
                assignment: crate::membership::decode_assignment(assignment),
            });
        }
        if id == group {
            if err != 0 {
                return Err(BusError::GroupProbe(format!(
                    "DescribeGroups answered error code {err} for {group}"
                )));
            }
            return Ok(GroupView { state, members });
        }
    }
    Err(BusError::GroupProbe(format!(
        "{group} missing from the DescribeGroups response"
    )))
}

/// Big-endian reader over a Kafka protocol body.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BusError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| BusError::GroupProbe("truncated response".into()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, BusError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, BusError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn string(&mut self) -> Result<String, BusError> {
        let n = self.i16()?;
        if n < 0 {
            return Ok(String::new());
        }
        let b = self.take(n as usize)?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], BusError> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(&[]);
        }
        self.take(n as usize)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(buf: &mut Vec<u8>, v: &str) {
        put_str(buf, v);
    }

    fn b(buf: &mut Vec<u8>, v: &[u8]) {
        buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
        buf.extend_from_slice(v);
    }

    #[test]
    fn find_coordinator_response() {
        let mut body = 0i16.to_be_bytes().to_vec();
        body.extend_from_slice(&111i32.to_be_bytes());
        s(&mut body, "broker-1");
        body.extend_from_slice(&9092i32.to_be_bytes());
        assert_eq!(
            parse_find_coordinator(&body).expect("parses"),
            "broker-1:9092"
        );
        let mut bad = 15i16.to_be_bytes().to_vec();
        bad.extend_from_slice(&[0; 10]);
        assert!(parse_find_coordinator(&bad).is_err());
    }

    #[test]
    fn describe_groups_response_with_members() {
        let mut body = 2i32.to_be_bytes().to_vec();
        for (g, members) in [("other", 0i32), ("g", 2)] {
            body.extend_from_slice(&0i16.to_be_bytes());
            s(&mut body, g);
            s(&mut body, "Stable");
            s(&mut body, "consumer");
            s(&mut body, "range");
            body.extend_from_slice(&members.to_be_bytes());
            for m in 0..members {
                s(&mut body, &format!("dsync-x-{m}"));
                s(&mut body, "dsync-x");
                s(&mut body, "/127.0.0.1");
                b(&mut body, b"");
                b(&mut body, b"");
            }
        }
        let v = parse_describe_groups(&body, "g").expect("parses");
        assert_eq!(v.state, "Stable");
        assert_eq!(v.members.len(), 2);
        assert_eq!(v.members[1].member_id, "dsync-x-1");
        assert!(
            v.members[0].assignment.is_none(),
            "empty bytes: not reported"
        );
        assert!(parse_describe_groups(&body, "missing").is_err());
        assert!(parse_describe_groups(&body[..body.len() - 3], "g").is_err());
    }
}
