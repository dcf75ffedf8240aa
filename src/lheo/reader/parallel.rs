//! The reader's two stages on one thread (`LheoReader`) or two (`lire_en_parallele`): the
//! document walk hands tapes to the decoder through a bounded channel.

use super::*;

/// The whole reader on the caller's thread: an iterator over the offers of one document.
pub struct LheoReader<R: Read> {
    pub(super) decoupeur: Decoupeur<R>,
}

impl<R: Read> LheoReader<R> {
    pub fn new(input: R) -> Self {
        LheoReader {
            decoupeur: Decoupeur::new(input),
        }
    }

    /// Takes what the document said besides its offers, once it is read.
    pub fn prendre_fin(&mut self) -> FinDocument {
        self.decoupeur.prendre_fin()
    }

    /// The LHÉO version announced by the root namespace, once the root is read.
    pub fn version(&self) -> Option<Version> {
        self.decoupeur.version()
    }

    /// Next offer, `None` at the end, or a fatal error after which the reader stops.
    pub fn next_offre(&mut self) -> Option<Result<OffreLue, LheoError>> {
        self.decoupeur.next_tape().map(|r| r.map(decoder))
    }
}

impl<R: Read> Iterator for LheoReader<R> {
    type Item = Result<OffreLue, LheoError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_offre()
    }
}

/// Bandes in flight between the two stages: enough to ride out uneven formations.
pub(super) const EN_VOL: usize = 64;

pub(super) enum Message {
    Tape(Tape),
    Erreur(LheoError),
    Fin(FinDocument),
}

/// The reader on two threads: [`Decoupeur`] on its own, [`decoder`] on the caller's. Tokenizing
/// and decoding cost about the same, so a file is read nearly twice as fast.
pub fn lire_en_parallele<R: Read + Send + 'static>(input: R) -> LecteurParallele {
    let (tx, rx) = std::sync::mpsc::sync_channel(EN_VOL);
    let fil = std::thread::Builder::new()
        .name("lheo-decoupe".into())
        .spawn(move || decouper(Decoupeur::new(input), tx))
        .expect("a thread for the LHÉO reader");
    LecteurParallele {
        rx: Some(rx),
        fil: Some(fil),
        fin: FinDocument::default(),
        fini: false,
    }
}

pub(super) fn decouper<R: Read>(mut d: Decoupeur<R>, tx: SyncSender<Message>) {
    while let Some(item) = d.next_tape() {
        let msg = match item {
            Ok(b) => Message::Tape(b),
            Err(e) => Message::Erreur(e),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
    let _ = tx.send(Message::Fin(d.prendre_fin()));
}

/// Iterator over the offers read by [`lire_en_parallele`].
pub struct LecteurParallele {
    pub(super) rx: Option<Receiver<Message>>,
    pub(super) fil: Option<std::thread::JoinHandle<()>>,
    pub(super) fin: FinDocument,
    pub(super) fini: bool,
}

impl LecteurParallele {
    /// Takes what the document said besides its offers, once it is read.
    pub fn prendre_fin(&mut self) -> FinDocument {
        std::mem::take(&mut self.fin)
    }
}

impl Iterator for LecteurParallele {
    type Item = Result<OffreLue, LheoError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.fini {
            return None;
        }
        let msg = self.rx.as_ref()?.recv();
        match msg {
            Ok(Message::Tape(b)) => Some(Ok(decoder(b))),
            Ok(Message::Erreur(e)) => {
                self.fini = true;
                Some(Err(e))
            }
            Ok(Message::Fin(s)) => {
                self.fini = true;
                self.fin = s;
                None
            }
            // The first stage panicked: reported, not swallowed.
            Err(_) => {
                self.fini = true;
                Some(Err(LheoError::Io(io::Error::other(
                    "le lecteur LHÉO s'est arrêté sans finir",
                ))))
            }
        }
    }
}

impl Drop for LecteurParallele {
    fn drop(&mut self) {
        // Closing the channel stops the first stage at its next send.
        self.rx = None;
        if let Some(fil) = self.fil.take() {
            let _ = fil.join();
        }
    }
}
