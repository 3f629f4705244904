//! HTTP Digest auth (RFC 7616) on one keep-alive connection per terminal.
//!
//! The request goes out without credentials; a `401` names the challenge, whose body is read to
//! its end (a terminal sends a short `<userCheck>`) and dropped before the answer goes out, so the
//! connection that carried the challenge is free again for the answer. `diqwest` keeps the `401`
//! response alive while it sends the answer, so every terminal call held a second connection (two
//! HTTP/1 buffers, a dispatch channel and a task): at 1,000 terminals that was half the service's
//! memory (BENCHMARKS.md). The challenge and the answer are computed by `digest_auth`.

use bytes::Bytes;
use digest_auth::{AuthContext, HttpMethod};
use reqwest::{Client, RequestBuilder, Response, StatusCode, header};
use url::Position;

/// The most of a challenge's body read to free its connection; a longer one is dropped with
/// its connection.
const CHALLENGE_BODY_LIMIT: usize = 16 * 1024;

/// Why a Digest exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DigestError {
    /// The HTTP exchange itself.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// The challenge could not be answered (malformed, unsupported algorithm, ...).
    #[error("{0}")]
    Challenge(String),
}

/// Sends `request` on `client`, answering a Digest challenge with `username` / `password`. A
/// reply other than `401`, or a `401` without a challenge, is returned as it is; so is the
/// answered request's reply (a second `401` means the credentials were refused).
pub(crate) async fn send(
    client: &Client,
    request: RequestBuilder,
    username: &str,
    password: &str,
) -> Result<Response, DigestError> {
    let mut answer = request
        .try_clone()
        .ok_or_else(|| DigestError::Challenge("the request's body cannot be sent twice".into()))?
        .build()?;
    let mut first = request.send().await?;
    if first.status() != StatusCode::UNAUTHORIZED {
        return Ok(first);
    }
    let Some(challenge) = first
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return Ok(first);
    };
    drain(&mut first).await;
    drop(first);
    let authorization = {
        let path = &answer.url()[Position::AfterPort..];
        let method = HttpMethod::from(answer.method().as_str());
        let body: Option<&[u8]> = answer.body().and_then(reqwest::Body::as_bytes);
        let context = AuthContext::new_with_method(username, password, path, body, method);
        let mut prompt =
            digest_auth::parse(&challenge).map_err(|e| DigestError::Challenge(e.to_string()))?;
        prompt
            .respond(&context)
            .map_err(|e| DigestError::Challenge(e.to_string()))?
            .to_header_string()
    };
    let value = header::HeaderValue::from_str(&authorization)
        .map_err(|e| DigestError::Challenge(e.to_string()))?;
    answer.headers_mut().insert(header::AUTHORIZATION, value);
    // The challenge's connection goes back to the pool from a task of its own: a turn of the
    // scheduler lets it get there before the answer asks the pool for one.
    tokio::task::yield_now().await;
    Ok(client.execute(answer).await?)
}

/// Reads the rest of `response`'s body, up to [`CHALLENGE_BODY_LIMIT`], so its connection can
/// carry the next request; a failure only costs that connection.
async fn drain(response: &mut Response) {
    let mut read = 0usize;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += Bytes::len(&chunk);
        if read > CHALLENGE_BODY_LIMIT {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A terminal's challenge: a fresh nonce and a short `<userCheck>` body.
    fn challenge() -> String {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
            <userCheck><statusValue>401</statusValue><statusString>Unauthorized</statusString></userCheck>";
        format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"DS\", qop=\"auth\", \
             nonce=\"abc123\", algorithm=MD5\r\nContent-Type: application/xml\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }
    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    /// A terminal that counts connections and answers the challenge's request on whichever
    /// connection it comes, then the authorised one with 200.
    async fn terminal() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/ISAPI/System/deviceInfo",
            listener.local_addr().expect("addr")
        );
        let (connections, answered) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (c, a) = (Arc::clone(&connections), Arc::clone(&answered));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let a = Arc::clone(&a);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut seen = Vec::new();
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        seen.extend_from_slice(buf.get(..n).unwrap_or_default());
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                            seen.drain(..end + 4);
                            let reply = if head.contains("authorization: digest") {
                                a.fetch_add(1, Ordering::SeqCst);
                                OK.to_string()
                            } else {
                                challenge()
                            };
                            // The head first and the body a moment later, as a busy
                            // terminal's TCP stack may send them.
                            let (head, body) =
                                reply.split_at(reply.find("\r\n\r\n").unwrap_or(0) + 4);
                            if socket.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            if socket.write_all(body.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, connections, answered)
    }

    #[tokio::test]
    async fn the_answer_goes_out_on_the_connection_that_carried_the_challenge() {
        let (url, connections, answered) = terminal().await;
        let client = Client::builder().no_proxy().build().expect("client");
        for _ in 0..3 {
            let reply = send(&client, client.get(&url), "admin", "secret")
                .await
                .expect("exchange");
            assert_eq!(reply.status(), StatusCode::OK);
            assert_eq!(reply.text().await.expect("body"), "ok");
        }
        assert_eq!(answered.load(Ordering::SeqCst), 3);
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "one keep-alive connection for 3 calls of 2 legs"
        );
    }

    #[tokio::test]
    async fn a_challenge_that_cannot_be_parsed_is_a_challenge_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let reply = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        let client = Client::builder().no_proxy().build().expect("client");
        let err = send(&client, client.get(&url), "admin", "secret")
            .await
            .expect_err("a Basic challenge has no Digest answer");
        assert!(matches!(err, DigestError::Challenge(_)), "{err:?}");
    }
}
