//! The harness's own cost: a process that only speaks the Lambda Runtime API.
//!
//! No runtime crate, no async executor, no SDK: it asks for the next event over one
//! keep-alive connection and answers it, as cheaply as std allows. Its init in the
//! cold-start table is what exec and `infra/bench/runtime_api.py` cost every subject, a
//! constant the report subtracts so that ratios to the floor are not flattered by it.

use std::env;
use std::io::{BufRead, BufReader, Error, ErrorKind, Result, Write};
use std::net::TcpStream;

const INVOCATION: &str = "/2018-06-01/runtime/invocation";
const REPLY: &[u8] = br#"{"statusCode":200}"#;

fn main() -> Result<()> {
    let api = env::var("AWS_LAMBDA_RUNTIME_API").map_err(|e| Error::new(ErrorKind::NotFound, e))?;
    let mut writer = TcpStream::connect(&api)?;
    writer.set_nodelay(true)?;
    let mut reader = BufReader::new(writer.try_clone()?);
    loop {
        write!(writer, "GET {INVOCATION}/next HTTP/1.1\r\nHost: {api}\r\n\r\n")?;
        // No request id: the harness is closing down, not handing out an event.
        let Some(request_id) = read_response(&mut reader)? else {
            return Ok(());
        };
        write!(
            writer,
            "POST {INVOCATION}/{request_id}/response HTTP/1.1\r\nHost: {api}\r\nContent-Length: {}\r\n\r\n",
            REPLY.len()
        )?;
        writer.write_all(REPLY)?;
        read_response(&mut reader)?;
    }
}

/// Reads one HTTP response whole; returns its `Lambda-Runtime-Aws-Request-Id`, if any.
fn read_response(reader: &mut impl BufRead) -> Result<Option<String>> {
    let mut request_id = None;
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let Some((name, value)) = line.trim_end().split_once(':') else {
            if line.trim_end().is_empty() {
                break;
            }
            continue; // the status line
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|e| Error::new(ErrorKind::InvalidData, e))?;
        } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
            request_id = Some(value.to_owned());
        }
    }
    reader.read_exact(&mut vec![0; length])?;
    Ok(request_id)
}
