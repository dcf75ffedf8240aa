//! Turns one `<formation>` tree into the model. Lenient about order (producers get it wrong),
//! strict about values the model types cannot hold (a number that is not a number). Unknown
//! elements are reported and dropped: they could not be written back schema-valid.

use super::reader::XNode;
use crate::model::*;
use crate::rules::Constat;

/// An element path, built without allocating and formatted only when a finding needs it.
#[derive(Clone, Copy)]
struct Chemin<'a> {
    parent: Option<&'a Chemin<'a>>,
    nom: &'a str,
    numero: &'a str,
}

impl<'a> Chemin<'a> {
    fn enfant(&'a self, nom: &'a str) -> Chemin<'a> {
        self.numerote(nom, "")
    }
    fn numerote(&'a self, nom: &'a str, numero: &'a str) -> Chemin<'a> {
        Chemin {
            parent: Some(self),
            nom,
            numero,
        }
    }
}

impl std::fmt::Display for Chemin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}/")?;
        }
        f.write_str(self.nom)?;
        if !self.numero.is_empty() {
            write!(f, "[{}]", self.numero)?;
        }
        Ok(())
    }
}

struct Dec<'a> {
    constats: Vec<Constat>,
    /// Byte offset → line:column.
    lc: &'a dyn Fn(u64) -> (u32, u32),
}

impl Dec<'_> {
    /// Keeps an element as received once checked against the schema (see
    /// [`super::schema`]): a bad one is dropped, and so are its bad optional descendants,
    /// each with a warning at its place in the file.
    fn garder(&mut self, n: XNode, chemin: &Chemin) -> Option<Node> {
        let octet = n.pos;
        let mut node = verbatim(n);
        let mut avertissements = Vec::new();
        let bon = super::schema::Schema::lheo().nettoyer(&mut node, chemin, &mut avertissements);
        if avertissements.is_empty() {
            return bon.then_some(node);
        }
        let pos = (self.lc)(octet);
        for (ou, message) in avertissements {
            self.constats
                .push(Constat::avertissement("valeur-invalide", ou, message).at_pos(pos));
        }
        bon.then_some(node)
    }

    fn inattendu(&mut self, n: &XNode, chemin: &Chemin) {
        self.constats.push(
            Constat::avertissement(
                "element-inconnu",
                format!("{chemin}/{}", n.name),
                format!("élément <{}> inattendu ici : ignoré", n.name),
            )
            .at_pos((self.lc)(n.pos)),
        );
    }

    /// An optional number (hours, places): a bad one is dropped with a warning.
    fn nombre(&mut self, n: &XNode, chemin: &Chemin) -> Option<u32> {
        let t = n.text.trim();
        match t.parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.constats.push(
                    Constat::avertissement(
                        "nombre-invalide",
                        format!("{chemin}/{}", n.name),
                        format!(
                            "« {} » n'est pas un nombre entier positif : élément ignoré",
                            short(t)
                        ),
                    )
                    .at_pos((self.lc)(n.pos)),
                );
                None
            }
        }
    }

    /// An optional leaf: present but empty counts as absent (an empty element is not valid
    /// LHÉO); a value its XSD type refuses is dropped with a warning, so that it never
    /// reaches a feed.
    fn opt(&mut self, n: XNode, chemin: &Chemin) -> Option<String> {
        let (pos, nom) = (n.pos, n.name.clone());
        let t = opt(n)?;
        match super::schema::Schema::lheo().erreur_valeur(&nom, &t) {
            None => Some(t),
            Some(message) => {
                self.constats.push(
                    Constat::avertissement(
                        "valeur-invalide",
                        format!("{chemin}/{nom}"),
                        format!("{message} : élément ignoré"),
                    )
                    .at_pos((self.lc)(pos)),
                );
                None
            }
        }
    }
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Takes a leaf's text without copying it when it needs no trimming (the common case).
fn take(n: XNode) -> String {
    let t = n.text;
    if t.trim().len() == t.len() {
        t
    } else {
        t.trim().to_string()
    }
}

/// An optional element: present but empty counts as absent (an empty element is not valid LHÉO).
fn opt(n: XNode) -> Option<String> {
    Some(take(n)).filter(|t| !t.is_empty())
}

/// Keeps a subtree as it was read (minus positions).
pub fn verbatim(mut n: XNode) -> Node {
    let children = std::mem::take(&mut n.children)
        .into_iter()
        .map(verbatim)
        .collect();
    Node {
        name: std::mem::take(&mut n.name).into_owned(),
        attrs: std::mem::take(&mut n.attrs),
        text: take(n),
        children,
    }
}

fn code(mut n: XNode) -> Code {
    let attrs = std::mem::take(&mut n.attrs);
    Code {
        code: take(n),
        attrs,
    }
}

/// Splits `numero`, `datecrea`, `datemaj` from the other attributes.
type Keyed = (String, Option<String>, Option<String>, Attrs);

fn keyed_attrs(attrs: Vec<(String, String)>) -> Keyed {
    let (mut numero, mut crea, mut maj, mut rest) = (String::new(), None, None, Vec::new());
    for (k, v) in attrs {
        match k.as_str() {
            "numero" => numero = v.trim().to_string(),
            "datecrea" => crea = Some(v),
            "datemaj" => maj = Some(v),
            _ => rest.push((k, v)),
        }
    }
    (numero, crea, maj, rest)
}

pub fn decode_formation(n: XNode, lc: &dyn Fn(u64) -> (u32, u32)) -> (Formation, Vec<Constat>) {
    let mut d = Dec {
        constats: Vec::new(),
        lc,
    };
    let (numero, datecrea, datemaj, attrs) = keyed_attrs(n.attrs);
    let num = numero.clone();
    let p = Chemin {
        parent: None,
        nom: "formation",
        numero: &num,
    };
    let mut f = Formation {
        numero,
        datecrea,
        datemaj,
        attrs,
        ..Default::default()
    };
    for c in n.children {
        match &*c.name {
            "domaine-formation" => f.domaine = domaine(c, &p, &mut d),
            "intitule-formation" => f.intitule = take(c),
            "objectif-formation" => f.objectif = take(c),
            "resultats-attendus" => f.resultats_attendus = take(c),
            "contenu-formation" => f.contenu = take(c),
            "certifiante" => f.certifiante = take(c),
            "contact-formation" => f.contacts.push(contact(c, &p, &mut d)),
            "parcours-de-formation" => f.parcours = take(c),
            "code-niveau-entree" => f.code_niveau_entree = take(c),
            "objectif-general-formation" => f.objectif_general = d.opt(c, &p),
            "certification" => f.certifications.push(certification(c, &p, &mut d)),
            "code-type-formation" => f.types_formation.extend(d.garder(c, &p)),
            "code-niveau-sortie" => f.code_niveau_sortie = d.opt(c, &p),
            "url-formation" => f.url = d.garder(c, &p),
            "action" => {
                let a = action(c, &p, &mut d);
                f.actions.push(a);
            }
            "organisme-formation-responsable" => f.organisme = organisme(c, &p, &mut d),
            "identifiant-module" | "positionnement" | "sous-modules" | "modules-prerequis" => {
                f.modules.extend(d.garder(c, &p))
            }
            "extras" => f.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    (f, d.constats)
}

fn domaine(n: XNode, p: &Chemin, d: &mut Dec) -> DomaineFormation {
    let p = p.enfant("domaine-formation");
    let mut dom = DomaineFormation::default();
    for c in n.children {
        match &*c.name {
            "code-FORMACODE" => dom.formacodes.push(code(c)),
            "code-NSF" => dom.nsf.push(take(c)),
            "code-ROME" => dom.rome.push(code(c)),
            "extras" => dom.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    dom
}

fn certification(n: XNode, p: &Chemin, d: &mut Dec) -> Certification {
    let p = p.enfant("certification");
    let mut cert = Certification::default();
    for c in n.children {
        match &*c.name {
            "code-RNCP" => cert.code_rncp = d.opt(c, &p),
            "code-CERTIFINFO" => cert.code_certifinfo = d.opt(c, &p),
            "code-RS" => cert.code_rs = d.opt(c, &p),
            "code-CPF" => cert.code_cpf = d.opt(c, &p),
            "reference-code-FORMACODE" => cert.reference_formacode = d.opt(c, &p),
            "extras" => cert.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    cert
}

fn contact(n: XNode, p: &Chemin, d: &mut Dec) -> Contact {
    let p = p.enfant(&n.name);
    let mut ct = Contact::default();
    for c in n.children {
        match &*c.name {
            "type-contact" => ct.type_contact = d.opt(c, &p),
            "coordonnees" => ct.coordonnees = coordonnees(c, &p, d),
            "extras" => ct.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    ct
}

fn coordonnees(n: XNode, p: &Chemin, d: &mut Dec) -> Coordonnees {
    let p = p.enfant("coordonnees");
    let mut co = Coordonnees {
        attrs: n.attrs,
        ..Default::default()
    };
    for c in n.children {
        match &*c.name {
            "civilite" => co.civilite = d.opt(c, &p),
            "nom" => co.nom = d.opt(c, &p),
            "prenom" => co.prenom = d.opt(c, &p),
            "ligne" => co.lignes.push(take(c)),
            "adresse" => co.adresse = Some(adresse(c, &p, d)),
            "telfixe" => co.telfixe = d.garder(c, &p),
            "portable" => co.portable = d.garder(c, &p),
            "fax" => co.fax = d.garder(c, &p),
            "courriel" => co.courriel = d.opt(c, &p),
            "web" => co.web = d.garder(c, &p),
            "extras" => co.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    co
}

fn adresse(n: XNode, p: &Chemin, d: &mut Dec) -> Adresse {
    let p = p.enfant("adresse");
    let mut a = Adresse::default();
    for c in n.children {
        match &*c.name {
            "denomination" => a.denomination = d.opt(c, &p),
            "ligne" => a.lignes.push(take(c)),
            "codepostal" => a.codepostal = take(c),
            "ville" => a.ville = take(c),
            "departement" => a.departement = d.opt(c, &p),
            "code-INSEE-commune" => a.code_insee_commune = d.opt(c, &p),
            "code-INSEE-canton" => a.code_insee_canton = d.opt(c, &p),
            "region" => a.region = d.opt(c, &p),
            "pays" => a.pays = d.opt(c, &p),
            "geolocalisation" => {
                let mut g = Geolocalisation::default();
                for gc in c.children {
                    match &*gc.name {
                        "latitude" => g.latitude = take(gc),
                        "longitude" => g.longitude = take(gc),
                        "extras" => g.extras.extend(d.garder(gc, &p)),
                        _ => d.inattendu(&gc, &p.enfant("geolocalisation")),
                    }
                }
                a.geolocalisation = Some(g);
            }
            "extras" => a.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    a
}

fn adresse_bloc(n: XNode, p: &Chemin, d: &mut Dec) -> AdresseBloc {
    let p = p.enfant(&n.name);
    let mut b = AdresseBloc::default();
    for c in n.children {
        match &*c.name {
            "adresse" => b.adresse = adresse(c, &p, d),
            "extras" => b.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    b
}

fn action(n: XNode, p: &Chemin, d: &mut Dec) -> Action {
    let (numero, datecrea, datemaj, attrs) = keyed_attrs(n.attrs);
    let num = numero.clone();
    let p = p.numerote("action", &num);
    let mut a = Action {
        numero,
        datecrea,
        datemaj,
        attrs,
        ..Default::default()
    };
    for c in n.children {
        match &*c.name {
            "rythme-formation" => a.rythme = take(c),
            "code-public-vise" => a.publics.push(code(c)),
            "info-public-vise" => a.info_public_vise = d.opt(c, &p),
            "niveau-entree-obligatoire" => a.niveau_entree_obligatoire = take(c),
            "modalites-alternance" => a.modalites_alternance = take(c),
            "modalites-enseignement" => a.modalites_enseignement = take(c),
            "conditions-specifiques" => a.conditions_specifiques = take(c),
            "prise-en-charge-frais-possible" => a.prise_en_charge_frais_possible = take(c),
            "lieu-de-formation" => {
                let lp = p.enfant("lieu-de-formation");
                let mut l = Lieu::default();
                for lc in c.children {
                    match &*lc.name {
                        "SIRET-lieu-formation" => l.siret = d.garder(lc, &p),
                        "code-UAI-lieu-formation" => l.uai = d.garder(lc, &p),
                        "coordonnees" => l.coordonnees = coordonnees(lc, &lp, d),
                        "extras" => l.extras.extend(d.garder(lc, &p)),
                        _ => d.inattendu(&lc, &lp),
                    }
                }
                a.lieux.push(l);
            }
            "modalites-entrees-sorties" => a.modalites_entrees_sorties = take(c),
            "url-action" => a.url = d.garder(c, &p),
            "duree-cycle" => a.duree_cycle = d.opt(c, &p),
            "session" => a.sessions.push(session(c, &p, d)),
            "adresse-information" => a.adresse_information = Some(adresse_bloc(c, &p, d)),
            "date-information" => a.dates_information.extend(d.garder(c, &p)),
            "restauration" => a.restauration = d.opt(c, &p),
            "hebergement" => a.hebergement = d.opt(c, &p),
            "transport" => a.transport = d.opt(c, &p),
            "acces-handicapes" => a.acces_handicapes = d.opt(c, &p),
            "langue-formation" => a.langues.extend(d.opt(c, &p)),
            "modalites-recrutement" => a.modalites_recrutement = d.opt(c, &p),
            "modalites-pedagogiques" => a.modalites_pedagogiques = d.opt(c, &p),
            "code-modalite-pedagogique" => a.codes_modalite_pedagogique.push(code(c)),
            "equipement" => a.equipements.extend(d.garder(c, &p)),
            "frais-restants" => a.frais_restants = d.opt(c, &p),
            "code-perimetre-recrutement" => a.code_perimetre_recrutement = d.opt(c, &p),
            "infos-perimetre-recrutement" => a.infos_perimetre_recrutement = d.opt(c, &p),
            "prix-horaire-TTC" => a.prix_horaire_ttc = d.opt(c, &p),
            "prix-total-TTC" => a.prix_total_ttc = d.opt(c, &p),
            "duree-indicative" => a.duree_indicative = d.opt(c, &p),
            "nombre-heures-centre" => a.nombre_heures_centre = d.nombre(&c, &p),
            "nombre-heures-entreprise" => a.nombre_heures_entreprise = d.nombre(&c, &p),
            "nombre-heures-total" => a.nombre_heures_total = d.nombre(&c, &p),
            "detail-conditions-prise-en-charge" => {
                a.detail_conditions_prise_en_charge = d.opt(c, &p)
            }
            "conventionnement" => a.conventionnement = d.opt(c, &p),
            "duree-conventionnee" => a.duree_conventionnee = d.nombre(&c, &p),
            "organisme-formateur" => a.organismes_formateurs.extend(d.garder(c, &p)),
            "organisme-financeur" => {
                let fp = p.enfant("organisme-financeur");
                let mut fin = Financeur::default();
                for fc in c.children {
                    match &*fc.name {
                        "code-financeur" => fin.code_financeur = take(fc),
                        "nb-places-financees" => fin.nb_places_financees = d.nombre(&fc, &fp),
                        "extras" => fin.extras.extend(d.garder(fc, &p)),
                        _ => d.inattendu(&fc, &fp),
                    }
                }
                a.financeurs.push(fin);
            }
            "enseignement" => a.enseignements.extend(d.garder(c, &p)),
            "extras" => a.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    a
}

fn session(n: XNode, p: &Chemin, d: &mut Dec) -> Session {
    let (numero, datecrea, datemaj, attrs) = keyed_attrs(n.attrs);
    let num = numero.clone();
    let p = p.numerote("session", &num);
    let mut s = Session {
        numero,
        datecrea,
        datemaj,
        attrs,
        ..Default::default()
    };
    for c in n.children {
        match &*c.name {
            "periode" => {
                for pc in c.children {
                    match &*pc.name {
                        "debut" => s.periode.debut = take(pc),
                        "fin" => s.periode.fin = take(pc),
                        "extras" => s.periode.extras.extend(d.garder(pc, &p)),
                        _ => d.inattendu(&pc, &p.enfant("periode")),
                    }
                }
            }
            "adresse-inscription" => s.adresse_inscription = adresse_bloc(c, &p, d),
            "modalites-inscription" => s.modalites_inscription = d.opt(c, &p),
            "periode-inscription" => s.periode_inscription = d.garder(c, &p),
            "etat-recrutement" => s.etat_recrutement = d.opt(c, &p),
            "recrutement"
            | "url-session"
            | "contact-session"
            | "reference-certification"
            | "blocs-competences"
            | "cycle" => s.details.extend(d.garder(c, &p)),
            // Sofi's own CPF annotation (its feeds) is derived: recomputed at each export,
            // never kept from a file, so that a stale one cannot travel on.
            "extras" => s.extras.extend(
                d.garder(c, &p)
                    .filter(|n| !crate::model::annotation_cpf_sofi(n)),
            ),
            _ => d.inattendu(&c, &p),
        }
    }
    // Written back in schema order, whatever order they came in (stable: repeated
    // elements keep theirs).
    s.details
        .sort_by_key(|n| DETAILS_SESSION.iter().position(|x| *x == n.name));
    s
}

/// The session's elements kept as received, in the order `session` has them in LHÉO 2.3.
const DETAILS_SESSION: &[&str] = &[
    "recrutement",
    "url-session",
    "contact-session",
    "reference-certification",
    "blocs-competences",
    "cycle",
];

fn organisme(n: XNode, p: &Chemin, d: &mut Dec) -> Organisme {
    let p = p.enfant("organisme-formation-responsable");
    let mut o = Organisme {
        attrs: n.attrs,
        ..Default::default()
    };
    for c in n.children {
        match &*c.name {
            "numero-activite" => o.numero_activite = take(c),
            "SIRET-organisme-formation" => {
                for sc in c.children {
                    match &*sc.name {
                        "SIRET" => o.siret = take(sc),
                        "extras" => o.siret_extras.extend(d.garder(sc, &p)),
                        _ => d.inattendu(&sc, &p.enfant("SIRET-organisme-formation")),
                    }
                }
            }
            "nom-organisme" => o.nom = take(c),
            "raison-sociale" => o.raison_sociale = take(c),
            "coordonnees-organisme" => {
                let cp = p.enfant("coordonnees-organisme");
                for cc in c.children {
                    match &*cc.name {
                        "coordonnees" => o.coordonnees = coordonnees(cc, &cp, d),
                        "extras" => o.coordonnees_extras.extend(d.garder(cc, &p)),
                        _ => d.inattendu(&cc, &cp),
                    }
                }
            }
            "contact-organisme" => o.contacts.push(contact(c, &p, d)),
            "renseignements-specifiques" => o.renseignements_specifiques = d.opt(c, &p),
            "potentiel" => o.potentiel = d.garder(c, &p),
            "code-UAI-organisme-formation" => o.uai = d.garder(c, &p),
            "extras" => o.extras.extend(d.garder(c, &p)),
            _ => d.inattendu(&c, &p),
        }
    }
    o
}
