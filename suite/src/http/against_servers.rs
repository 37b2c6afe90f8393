//! The driver against small loopback servers that do exactly what real ones were seen to do:
//! close idle keep-alive connections, refuse a large header with 431 and hang up, stop in the
//! middle of a body, or never answer. Written on raw TCP, since an HTTP mock cannot close a
//! connection at the wrong moment.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// The answer of a compliant little server: 200, two bytes, keep-alive.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// What Node's HTTP server writes when a request head exceeds its 16 KB limit, before it
/// destroys the socket.
const NODE_431: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n";

/// A loopback server: every accepted connection is handed to `serve` with its number (from
/// 0); the count of connections is shared with the test.
async fn server<F, Fut>(serve: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, n));
        }
    });
    (url, connections)
}

/// Reads one request head (through the blank line); `None` when the peer closed first.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => head.push(byte[0]),
        }
    }
    Some(head)
}

/// Reads one whole request (head and `content-length` body); `None` when the peer closed.
async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let head = read_head(stream).await?;
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(head)
}

fn post(url: &str) -> ProbeRequest {
    ProbeRequest::new("POST", url).json_body(&serde_json::json!({"jsonrpc": "2.0", "id": 1}))
}

fn driver() -> Driver {
    Driver::new(Limits::default()).unwrap()
}

fn status(e: &Exchange) -> u16 {
    match &e.response {
        Ok(r) => r.status,
        Err(err) => panic!("no response: {err}"),
    }
}

#[tokio::test]
async fn a_server_closing_idle_connections_after_200_ms_costs_no_request() {
    // Node-style keep-alive, only shorter: an idle connection is closed after 200 ms.
    let (url, connections) = server(|mut stream, _| async move {
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(200), read_request(&mut stream)).await
        {
            if stream.write_all(OK).await.is_err() {
                return;
            }
        }
    })
    .await;
    let driver = driver();
    let first = driver.send(post(&url)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = driver.send(post(&url)).await;
    assert_eq!((status(&first), status(&second)), (200, 200));
    assert_eq!(driver.requests_sent(), 2);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_request_on_a_connection_closed_under_it_is_sent_again_on_a_new_one() {
    // The race behind "error sending request": the pooled connection is reused at the moment
    // the server closes it, so the request is written and no answer ever comes. Here the
    // server answers the first request of a connection and hangs up on the second one
    // without a byte.
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let (url, connections) = server(move |mut stream, _| {
        let seen = seen.clone();
        async move {
            if read_request(&mut stream).await.is_none() {
                return;
            }
            seen.fetch_add(1, Ordering::SeqCst);
            stream.write_all(OK).await.unwrap();
            if read_request(&mut stream).await.is_some() {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        }
    })
    .await;
    let driver = driver();
    let first = driver.send(post(&url)).await;
    assert!(first.retried_after.is_none());
    let second = driver.send(post(&url)).await;
    assert_eq!((status(&first), status(&second)), (200, 200));
    let retried = second
        .retried_after
        .as_ref()
        .expect("the retry is noted in the exchange");
    assert!(retried.closed_before_answer(), "{retried}");
    assert_eq!(
        retried.to_string(),
        "the target did not answer: the connection was closed before a status line arrived"
    );
    // Recorded once as sent; on the wire, the second request went out twice.
    assert_eq!(driver.requests_sent(), 2);
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_connection_is_reused_after_a_second_idle() {
    // A server (or a middlebox) that drops a connection idle for 1.2 s without a word: the
    // next request on it would get no answer. The pool never keeps a connection that long.
    let (url, connections) = server(|mut stream, _| async move {
        let mut last = tokio::time::Instant::now();
        while read_request(&mut stream).await.is_some() {
            if last.elapsed() >= Duration::from_millis(1200) {
                return;
            }
            stream.write_all(OK).await.unwrap();
            last = tokio::time::Instant::now();
        }
    })
    .await;
    let driver = driver();
    let first = driver.send(post(&url)).await;
    tokio::time::sleep(POOL_IDLE_TIMEOUT + Duration::from_millis(500)).await;
    let second = driver.send(post(&url)).await;
    assert_eq!((status(&first), status(&second)), (200, 200));
    assert!(second.retried_after.is_none(), "a new connection was used");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// A 64 KB header field, as the oversized-credential checks send.
fn oversized(url: &str) -> ProbeRequest {
    post(url).header(
        "authorization",
        &format!("Bearer {}", "A".repeat(64 * 1024)),
    )
}

#[tokio::test]
async fn a_431_followed_by_a_reset_is_a_response() {
    // Node: the head is over the limit, so 431, `Connection: close`, no length, and the socket
    // destroyed with the body unread, which resets the connection.
    let (url, _) = server(|mut stream, _| async move {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        assert!(head.len() > 16 * 1024);
        // Let the body arrive, so that closing with it unread sends a reset.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = stream.write_all(NODE_431).await;
    })
    .await;
    let exchange = driver().send(oversized(&url)).await;
    let r = exchange.response.as_ref().expect("the 431 is a response");
    assert_eq!(r.status, 431);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        r.body_incomplete.as_deref(),
        Some("the connection was reset before the end of the body")
    );
}

#[tokio::test]
async fn a_431_sent_before_the_head_was_read_is_a_response() {
    // As Node's parser does: it stops at 16 KB of head, answers and hangs up, leaving the rest
    // of the request unread (the client may still be writing it).
    let (url, _) = server(|mut stream, _| async move {
        let mut seen = vec![0u8; 16 * 1024];
        if stream.read_exact(&mut seen).await.is_err() {
            return;
        }
        let _ = stream.write_all(NODE_431).await;
    })
    .await;
    let exchange = driver().send(oversized(&url)).await;
    assert_eq!(status(&exchange), 431);
}

#[tokio::test]
async fn a_body_cut_by_a_closed_connection_keeps_the_status_and_headers() {
    let (url, _) = server(|mut stream, _| async move {
        if read_request(&mut stream).await.is_some() {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\"\r\n\
                      content-length: 100\r\n\r\n{\"partial\":",
                )
                .await;
        }
    })
    .await;
    let exchange = driver().send(post(&url)).await;
    assert!(exchange.retried_after.is_none());
    let r = exchange
        .response
        .as_ref()
        .expect("a response with a cut body");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert_eq!(r.body, b"{\"partial\":");
    assert!(!r.truncated);
    assert_eq!(
        r.body_incomplete.as_deref(),
        Some("the connection was closed before the end of the body")
    );
}

#[tokio::test]
async fn a_body_that_stalls_past_the_deadline_keeps_the_status_and_headers() {
    let (url, _) = server(|mut stream, _| async move {
        if read_request(&mut stream).await.is_some() {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 100\r\n\r\nslow")
                .await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let exchange = Driver::new(limits).unwrap().send(post(&url)).await;
    let r = exchange
        .response
        .as_ref()
        .expect("a response with a cut body");
    assert_eq!((r.status, r.body.as_slice()), (400, &b"slow"[..]));
    assert_eq!(
        r.body_incomplete.as_deref(),
        Some("the body did not finish within 0.3 s")
    );
}

#[tokio::test]
async fn a_refused_connection_is_no_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    drop(listener);
    let exchange = driver().send(post(&url)).await;
    let err = exchange.response.as_ref().unwrap_err();
    assert!(
        matches!(err, TransportError::NoAnswer(NoAnswer::Unreachable(_))),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the target did not answer: no connection could be opened ("),
        "{err}"
    );
    assert!(
        exchange.retried_after.is_none(),
        "nothing to retry on a refusal"
    );
}

#[tokio::test]
async fn a_connection_closed_before_the_status_line_is_no_answer_after_one_retry() {
    let (url, connections) = server(|mut stream, _| async move {
        let _ = read_request(&mut stream).await;
    })
    .await;
    let driver = driver();
    let exchange = driver.send(post(&url)).await;
    let closed = TransportError::NoAnswer(NoAnswer::Closed("the connection was closed".into()));
    assert_eq!(exchange.response.as_ref().unwrap_err(), &closed);
    assert_eq!(exchange.retried_after.as_ref(), Some(&closed));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(driver.requests_sent(), 1);
}

#[tokio::test]
async fn no_status_line_before_the_deadline_is_no_answer() {
    let (url, _) = server(|mut stream, _| async move {
        let _ = read_request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let exchange = Driver::new(limits).unwrap().send(post(&url)).await;
    let err = exchange.response.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the target did not answer: no status line arrived within 0.3 s"
    );
}

#[tokio::test]
async fn a_malformed_head_is_an_answer_that_could_not_be_read() {
    let (url, connections) = server(|mut stream, _| async move {
        if read_request(&mut stream).await.is_some() {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nthis is no header\r\n\r\n")
                .await;
        }
    })
    .await;
    let exchange = driver().send(post(&url)).await;
    let err = exchange.response.as_ref().unwrap_err();
    assert!(
        matches!(err, TransportError::IncompleteAnswer(_)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the target's answer could not be read because its status line"),
        "{err}"
    );
    assert!(exchange.retried_after.is_none());
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_header_http_cannot_carry_is_not_sent() {
    let exchange = driver()
        .send(ProbeRequest::new("POST", "http://127.0.0.1:9/mcp").header("x-bad", "a\nb"))
        .await;
    assert_eq!(
        exchange.response.unwrap_err().to_string(),
        "the request was not sent because the x-bad value is not a valid field value"
    );
}
