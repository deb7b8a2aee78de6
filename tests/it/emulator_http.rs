//! The emulator's HTTP layer seen through raw sockets: answers hyper makes
//! itself for requests it cannot parse are JSON `{"message"}` errors too.

use crate::common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::Emu;
use serde_json::Value;

/// One answer read off a raw connection.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `request` on a fresh connection and reads until the server closes.
/// The read timeout only stops a hung test; nothing asserts on time.
fn send_raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).expect("request written");
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading the answer failed after {} bytes: {e}", raw.len()),
        }
        if complete(&raw) {
            break;
        }
    }
    parse(&raw)
}

/// Whether `raw` holds a head and the whole body its content-length announces.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    len.is_some_and(|n| raw.len() >= end + 4 + n)
}

fn parse(raw: &[u8]) -> Answer {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

/// Asserts a JSON `{"message"}` error with `status` whose message contains `needle`.
fn assert_json_error(a: &Answer, status: u16, needle: &str) {
    assert_eq!(a.status, status, "headers {:?}", a.headers);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(
        a.header("content-length").and_then(|v| v.parse().ok()),
        Some(a.body.len())
    );
    let v: Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| {
        panic!(
            "body {:?} is not JSON: {e}",
            String::from_utf8_lossy(&a.body)
        )
    });
    let msg = v["message"].as_str().expect("a message");
    assert!(msg.contains(needle), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_requests_answer_json_errors() {
    let e = Emu::start().await;
    let addr = e.emu.addr();
    let answers = tokio::task::spawn_blocking(move || {
        let garbage = send_raw(addr, b"\x16\x03\x01 not http at all\r\n\r\n");
        let long_uri = format!(
            "GET /organizations/x/products?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(70 * 1024)
        );
        let long_uri = send_raw(addr, long_uri.as_bytes());
        let mut many = String::from("GET /_emulator/stats HTTP/1.1\r\nHost: x\r\n");
        for i in 0..100 {
            many.push_str(&format!("x-filler-{i}: {}\r\n", "h".repeat(1000)));
        }
        many.push_str("\r\n");
        let many = send_raw(addr, many.as_bytes());
        // The connection after them is served as usual.
        let ok = send_raw(
            addr,
            b"GET /_emulator/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        (garbage, long_uri, many, ok)
    })
    .await
    .unwrap();
    let (garbage, long_uri, many, ok) = answers;
    assert_json_error(&garbage, 400, "not valid HTTP");
    assert_json_error(&long_uri, 414, "URI");
    assert_json_error(&many, 431, "header");
    assert_eq!(ok.status, 200);
    let stats: Value = serde_json::from_slice(&ok.body).unwrap();
    // Parse errors never reach the router: only the token and this request.
    assert_eq!(
        stats["requests"],
        serde_json::json!({"POST /oauth/token": 1, "GET /_emulator/stats": 1})
    );
}
