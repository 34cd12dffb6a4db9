//! The terminal the tty renderer draws on: indicatif's `TermLike` over any writer, speaking
//! plain ANSI cursor sequences, and the size of stderr.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::sync::Mutex;

use indicatif::TermLike;

/// Terminal size (columns, rows) of stderr; 80x24 when it is not a terminal.
pub(crate) fn stderr_size() -> (u16, u16) {
    fd_size(2)
}

/// Terminal size (columns, rows) of `fd`; 80x24 when it is not a terminal.
pub(crate) fn fd_size(fd: libc::c_int) -> (u16, u16) {
    // SAFETY: zeroed is a valid winsize; TIOCGWINSZ only writes into the struct we pass, and a
    // failure (fd not a terminal) leaves it zero, which we replace by the default.
    let ws = unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws);
        ws
    };
    let or = |v: u16, d: u16| if v == 0 { d } else { v };
    (or(ws.ws_col, 80), or(ws.ws_row, 24))
}

/// indicatif's terminal over our writer: plain ANSI cursor moves, buffered until each draw's
/// flush so a redraw is one write.
pub(crate) struct TermOut {
    out: Mutex<BufWriter<Box<dyn Write + Send>>>,
    size: fn() -> (u16, u16),
}

impl fmt::Debug for TermOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TermOut")
    }
}

impl TermOut {
    pub(crate) fn new(out: Box<dyn Write + Send>, size: fn() -> (u16, u16)) -> Self {
        Self {
            out: Mutex::new(BufWriter::new(out)),
            size,
        }
    }

    fn put(&self, s: &str) -> io::Result<()> {
        self.out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(s.as_bytes())
    }

    fn cursor(&self, n: usize, code: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.put(&format!("\x1b[{n}{code}"))
    }
}

impl TermLike for TermOut {
    fn width(&self) -> u16 {
        (self.size)().0
    }
    fn height(&self) -> u16 {
        (self.size)().1
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'A')
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'B')
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'C')
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'D')
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.put(s)?;
        self.put("\n")
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.put(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        self.put("\r\x1b[2K")
    }
    fn flush(&self) -> io::Result<()> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}
