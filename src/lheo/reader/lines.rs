//! Line and column of every finding: the input is buffered for quick-xml here, and the line
//! starts of each refill recorded (eight bytes at a time); runs without `<` or `>` counted.

use super::*;

/// Where lines start in a window of the input, so byte offsets become line:column.
#[derive(Debug, Default)]
pub(super) struct Lignes {
    /// Offsets of the `\n` bytes of the window, ascending.
    pub(super) sauts: Vec<u64>,
    /// Newlines before `sauts[0]`.
    pub(super) oubliees: u32,
}

impl Lignes {
    pub(super) fn line_col(&self, offset: u64) -> (u32, u32) {
        let idx = self.sauts.partition_point(|&n| n < offset);
        let line = self.oubliees as usize + idx + 1;
        let line_start = if idx > 0 { self.sauts[idx - 1] + 1 } else { 0 };
        (line as u32, (offset.saturating_sub(line_start) + 1) as u32)
    }

    /// Index of the last newline before `offset` (where a window from `offset` starts).
    fn avant(&self, offset: u64) -> usize {
        self.sauts
            .partition_point(|&n| n < offset)
            .saturating_sub(1)
    }

    /// Drops newline offsets before `offset`, keeping the one before it for column numbers.
    pub(super) fn forget_before(&mut self, offset: u64) {
        let k = self.avant(offset);
        // Compacted in bulk, only once enough is forgotten.
        if k > 8 * 1024 {
            self.sauts.drain(..k);
            self.oubliees += k as u32;
        }
    }

    /// The window needed for offsets from `offset` on.
    pub(super) fn depuis(&self, offset: u64) -> Lignes {
        let k = self.avant(offset);
        Lignes {
            sauts: self.sauts[k..].to_vec(),
            oubliees: self.oubliees + k as u32,
        }
    }
}

/// Appends the offsets of the `\n` bytes of `chunk`. Indented LHÉO has a newline every ~30
/// bytes, too dense for `memchr_iter`'s per-match setup: this tests eight bytes per step.
pub(super) fn noter_sauts_de_ligne(chunk: &[u8], base: u64, out: &mut Vec<u64>) {
    const UNS: u64 = 0x0101_0101_0101_0101;
    const HAUTS: u64 = 0x8080_8080_8080_8080;
    let mut mots = chunk.chunks_exact(8);
    let mut at = base;
    for mot in &mut mots {
        let x = u64::from_le_bytes(mot.try_into().expect("8 bytes")) ^ (UNS * b'\n' as u64);
        // High bit set exactly in the bytes of `x` that are zero (no carries between bytes).
        let mut zeros = !(((x & !HAUTS).wrapping_add(!HAUTS)) | x) & HAUTS;
        while zeros != 0 {
            out.push(at + (zeros.trailing_zeros() / 8) as u64);
            zeros &= zeros - 1;
        }
        at += 8;
    }
    for (i, &b) in mots.remainder().iter().enumerate() {
        if b == b'\n' {
            out.push(at + i as u64);
        }
    }
}

/// Buffers the input for quick-xml and records where lines start, once per 256 KiB refill.
pub(super) struct LineTracker<R> {
    pub(super) inner: R,
    pub(super) buf: Box<[u8]>,
    pub(super) pos: usize,
    pub(super) filled: usize,
    /// Absolute offset of `buf[0]`.
    pub(super) buf_start: u64,
    pub(super) lignes: Lignes,
    /// Bytes since the last `<` or `>` (see [`MAX_TOKEN`]).
    pub(super) sans_balise: u64,
}

impl<R: Read> LineTracker<R> {
    pub(super) fn new(inner: R) -> Self {
        LineTracker {
            inner,
            buf: vec![0; 256 * 1024].into_boxed_slice(),
            pos: 0,
            filled: 0,
            buf_start: 0,
            lignes: Lignes {
                sauts: Vec::with_capacity(16 * 1024),
                oubliees: 0,
            },
            sans_balise: 0,
        }
    }

    /// Reads the next block: out of line, so the per-event [`BufRead::fill_buf`] stays tiny.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) -> io::Result<()> {
        self.buf_start += self.filled as u64;
        self.pos = 0;
        self.filled = 0;
        let n = loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.filled = n;
        let bloc = &self.buf[..n];
        noter_sauts_de_ligne(bloc, self.buf_start, &mut self.lignes.sauts);
        // Within a block, runs are shorter than the block, itself shorter than MAX_JETON:
        // only the runs across blocks are counted.
        match memchr::memchr2(b'<', b'>', bloc) {
            None => self.sans_balise += n as u64,
            Some(premier) => {
                if self.sans_balise + premier as u64 > MAX_TOKEN {
                    return Err(jeton_demesure());
                }
                let dernier = memchr::memrchr2(b'<', b'>', bloc).unwrap_or(premier);
                self.sans_balise = (n - 1 - dernier) as u64;
            }
        }
        if self.sans_balise > MAX_TOKEN {
            return Err(jeton_demesure());
        }
        Ok(())
    }
}

pub(super) fn jeton_demesure() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "plus de {} Mio sans balise (texte ou balise démesurés) : fichier refusé",
            MAX_TOKEN >> 20
        ),
    )
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for LineTracker<R> {
    // quick-xml calls this several times per event.
    #[inline(always)]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }
    #[inline(always)]
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}
