//! A request body read as a blocking `std::io::Read` (on the blocking pool) while the runtime
//! keeps receiving it: a build context is synced as it arrives, the upload and the work on it
//! overlapping, instead of being spooled to a file and read back. A body that breaks off is
//! an error from `read`, so the reader's consumer fails and cleans up as for a bad archive.

use std::io::{self, Read};

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

/// Chunks received ahead of the reader.
const BUFFERED: usize = 32;

/// The blocking end; see [`body_reader`].
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    cur: Bytes,
}

/// Starts receiving `body` on the runtime; read it from a blocking thread. Receiving stops
/// once the reader is dropped.
pub fn body_reader(body: Body) -> BodyReader {
    let (tx, rx) = mpsc::channel(BUFFERED);
    tokio::spawn(async move {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let chunk = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => Ok(data),
                    Err(_) => continue,
                },
                Err(e) => Err(e.to_string()),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    BodyReader {
        rx,
        cur: Bytes::new(),
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.cur = chunk,
                Some(Err(e)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("reading the request body: {e}"),
                    ))
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}
