//! LHÉO 2.3 writer: model → XML in schema order (every content model is an `xs:sequence`),
//! streaming to any `Write`, one formation at a time.

use super::NS_23;
use crate::model::*;
use quick_xml::escape::escape;
use std::io::{self, Write};

/// Writes `<lheo><offres>` once the first formation comes. `offres` needs at least one
/// `formation` in LHÉO: a document with none (an empty store, a filter that matches
/// nothing, an incremental feed with nothing new or only deletions) is written as
/// `<lheo-plus>`, LHÉO's own root whose `lheo` may be absent and which carries `extras`.
pub struct LheoWriter<W: Write> {
    w: W,
    depth: usize,
    /// `<lheo><offres>` written.
    ouvert: bool,
    /// The formation being written is CPF-eligible as Sofi decides it: each session says so
    /// in Intercarif's convention (`<extras info="eligibilite-cpf">`), unless it already does.
    pub eligibilite_cpf: bool,
}

impl<W: Write> LheoWriter<W> {
    /// Writes the prologue.
    pub fn new(mut w: W) -> io::Result<Self> {
        w.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        Ok(LheoWriter {
            w,
            depth: 2,
            ouvert: false,
            eligibilite_cpf: false,
        })
    }

    fn ouvrir(&mut self) -> io::Result<()> {
        if !self.ouvert {
            write!(self.w, "<lheo xmlns=\"{NS_23}\">\n  <offres>\n")?;
            self.ouvert = true;
        }
        Ok(())
    }

    /// Closes the document and hands back the output.
    pub fn finish(self) -> io::Result<W> {
        self.finish_with_suppressions(&[])
    }

    /// Closes the document, listing deleted offers in `extras` (see `diffusion`): in
    /// `lheo` after `offres`, or in `lheo-plus` when no formation was written.
    pub fn finish_with_suppressions(mut self, numeros: &[String]) -> io::Result<W> {
        if self.ouvert {
            self.w.write_all(b"  </offres>\n")?;
        } else {
            writeln!(self.w, "<lheo-plus xmlns=\"{NS_23}\">")?;
        }
        if !numeros.is_empty() {
            self.w.write_all(b"  <extras info=\"suppressions\">\n")?;
            for n in numeros {
                writeln!(
                    self.w,
                    "    <extra info=\"formation\" numero=\"{}\"/>",
                    escape(n.as_str())
                )?;
            }
            self.w.write_all(b"  </extras>\n")?;
        }
        self.w.write_all(if self.ouvert {
            b"</lheo>\n"
        } else {
            b"</lheo-plus>\n"
        })?;
        self.w.flush()?;
        Ok(self.w)
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    fn indent(&mut self) -> io::Result<()> {
        const SPACES: &[u8] = &[b' '; 128];
        self.w.write_all(&SPACES[..(self.depth * 2).min(128)])
    }

    // Pieces are written as bytes, not with `write!`: formatting machinery was ~15 % of an
    // export's time.
    fn open(&mut self, name: &str, attrs: &[(String, String)]) -> io::Result<()> {
        self.indent()?;
        self.w.write_all(b"<")?;
        self.w.write_all(name.as_bytes())?;
        self.attrs(attrs)?;
        self.w.write_all(b">\n")?;
        self.depth += 1;
        Ok(())
    }

    fn attrs(&mut self, attrs: &[(String, String)]) -> io::Result<()> {
        for (k, v) in attrs {
            self.w.write_all(b" ")?;
            self.w.write_all(k.as_bytes())?;
            self.w.write_all(b"=\"")?;
            self.w.write_all(escape(v.as_str()).as_bytes())?;
            self.w.write_all(b"\"")?;
        }
        Ok(())
    }

    fn close(&mut self, name: &str) -> io::Result<()> {
        self.depth -= 1;
        self.indent()?;
        self.w.write_all(b"</")?;
        self.w.write_all(name.as_bytes())?;
        self.w.write_all(b">\n")
    }

    fn leaf_attrs(&mut self, name: &str, attrs: &[(String, String)], text: &str) -> io::Result<()> {
        self.indent()?;
        self.w.write_all(b"<")?;
        self.w.write_all(name.as_bytes())?;
        self.attrs(attrs)?;
        self.w.write_all(b">")?;
        self.w.write_all(escape(text).as_bytes())?;
        self.w.write_all(b"</")?;
        self.w.write_all(name.as_bytes())?;
        self.w.write_all(b">\n")
    }

    fn leaf(&mut self, name: &str, text: &str) -> io::Result<()> {
        self.leaf_attrs(name, &[], text)
    }

    fn opt(&mut self, name: &str, text: &Option<String>) -> io::Result<()> {
        match text {
            Some(t) => self.leaf(name, t),
            None => Ok(()),
        }
    }

    fn opt_num(&mut self, name: &str, n: Option<u32>) -> io::Result<()> {
        match n {
            Some(n) => self.leaf(name, &n.to_string()),
            None => Ok(()),
        }
    }

    fn code(&mut self, name: &str, c: &Code) -> io::Result<()> {
        self.leaf_attrs(name, &c.attrs, &c.code)
    }

    /// A verbatim subtree (extras, and the 2.3 elements kept as read).
    pub fn node(&mut self, n: &Node) -> io::Result<()> {
        if n.children.is_empty() {
            return self.leaf_attrs(&n.name, &n.attrs, &n.text);
        }
        self.open(&n.name, &n.attrs)?;
        if !n.text.is_empty() {
            self.indent()?;
            writeln!(self.w, "{}", escape(n.text.as_str()))?;
        }
        for c in &n.children {
            self.node(c)?;
        }
        self.close(&n.name)
    }

    fn nodes(&mut self, ns: &[Node]) -> io::Result<()> {
        ns.iter().try_for_each(|n| self.node(n))
    }

    fn opt_node(&mut self, n: &Option<Node>) -> io::Result<()> {
        n.as_ref().map_or(Ok(()), |n| self.node(n))
    }

    fn keyed(
        numero: &str,
        datecrea: &Option<String>,
        datemaj: &Option<String>,
        rest: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut v = Vec::with_capacity(rest.len() + 3);
        if !numero.is_empty() {
            v.push(("numero".to_string(), numero.to_string()));
        }
        if let Some(d) = datecrea {
            v.push(("datecrea".to_string(), d.clone()));
        }
        if let Some(d) = datemaj {
            v.push(("datemaj".to_string(), d.clone()));
        }
        v.extend(rest.iter().cloned());
        v
    }

    /// Writes one `<formation>`; `garder` says which actions to include (diffusion filter).
    pub fn formation_filtered(
        &mut self,
        f: &Formation,
        garder: impl Fn(usize, &Action) -> bool,
    ) -> io::Result<()> {
        self.ouvrir()?;
        self.open(
            "formation",
            &Self::keyed(&f.numero, &f.datecrea, &f.datemaj, &f.attrs),
        )?;
        self.open("domaine-formation", &[])?;
        for c in &f.domaine.formacodes {
            self.code("code-FORMACODE", c)?;
        }
        for c in &f.domaine.nsf {
            self.leaf("code-NSF", c)?;
        }
        for c in &f.domaine.rome {
            self.code("code-ROME", c)?;
        }
        self.nodes(&f.domaine.extras)?;
        self.close("domaine-formation")?;
        self.leaf("intitule-formation", &f.intitule)?;
        self.leaf("objectif-formation", &f.objectif)?;
        self.leaf("resultats-attendus", &f.resultats_attendus)?;
        self.leaf("contenu-formation", &f.contenu)?;
        self.leaf("certifiante", &f.certifiante)?;
        for c in &f.contacts {
            self.contact("contact-formation", c)?;
        }
        self.leaf("parcours-de-formation", &f.parcours)?;
        self.leaf("code-niveau-entree", &f.code_niveau_entree)?;
        self.opt("objectif-general-formation", &f.objectif_general)?;
        for c in &f.certifications {
            self.open("certification", &[])?;
            self.opt("code-RNCP", &c.code_rncp)?;
            self.opt("code-CERTIFINFO", &c.code_certifinfo)?;
            self.opt("code-RS", &c.code_rs)?;
            self.opt("code-CPF", &c.code_cpf)?;
            self.opt("reference-code-FORMACODE", &c.reference_formacode)?;
            self.nodes(&c.extras)?;
            self.close("certification")?;
        }
        self.nodes(&f.types_formation)?;
        self.opt("code-niveau-sortie", &f.code_niveau_sortie)?;
        self.opt_node(&f.url)?;
        for (i, a) in f.actions.iter().enumerate() {
            if garder(i, a) {
                self.action(a)?;
            }
        }
        self.organisme(&f.organisme)?;
        self.nodes(&f.modules)?;
        self.nodes(&f.extras)?;
        self.close("formation")
    }

    pub fn formation(&mut self, f: &Formation) -> io::Result<()> {
        self.formation_filtered(f, |_, _| true)
    }

    fn contact(&mut self, name: &str, c: &Contact) -> io::Result<()> {
        self.open(name, &[])?;
        self.opt("type-contact", &c.type_contact)?;
        self.coordonnees(&c.coordonnees)?;
        self.nodes(&c.extras)?;
        self.close(name)
    }

    fn coordonnees(&mut self, c: &Coordonnees) -> io::Result<()> {
        self.open("coordonnees", &c.attrs)?;
        self.opt("civilite", &c.civilite)?;
        self.opt("nom", &c.nom)?;
        self.opt("prenom", &c.prenom)?;
        for l in &c.lignes {
            self.leaf("ligne", l)?;
        }
        if let Some(a) = &c.adresse {
            self.adresse(a)?;
        }
        self.opt_node(&c.telfixe)?;
        self.opt_node(&c.portable)?;
        self.opt_node(&c.fax)?;
        self.opt("courriel", &c.courriel)?;
        self.opt_node(&c.web)?;
        self.nodes(&c.extras)?;
        self.close("coordonnees")
    }

    fn adresse(&mut self, a: &Adresse) -> io::Result<()> {
        self.open("adresse", &[])?;
        self.opt("denomination", &a.denomination)?;
        for l in &a.lignes {
            self.leaf("ligne", l)?;
        }
        self.leaf("codepostal", &a.codepostal)?;
        self.leaf("ville", &a.ville)?;
        self.opt("departement", &a.departement)?;
        self.opt("code-INSEE-commune", &a.code_insee_commune)?;
        self.opt("code-INSEE-canton", &a.code_insee_canton)?;
        self.opt("region", &a.region)?;
        self.opt("pays", &a.pays)?;
        if let Some(g) = &a.geolocalisation {
            self.open("geolocalisation", &[])?;
            self.leaf("latitude", &g.latitude)?;
            self.leaf("longitude", &g.longitude)?;
            self.nodes(&g.extras)?;
            self.close("geolocalisation")?;
        }
        self.nodes(&a.extras)?;
        self.close("adresse")
    }

    fn adresse_bloc(&mut self, name: &str, b: &AdresseBloc) -> io::Result<()> {
        self.open(name, &[])?;
        self.adresse(&b.adresse)?;
        self.nodes(&b.extras)?;
        self.close(name)
    }

    fn action(&mut self, a: &Action) -> io::Result<()> {
        self.open(
            "action",
            &Self::keyed(&a.numero, &a.datecrea, &a.datemaj, &a.attrs),
        )?;
        self.leaf("rythme-formation", &a.rythme)?;
        for p in &a.publics {
            self.code("code-public-vise", p)?;
        }
        self.opt("info-public-vise", &a.info_public_vise)?;
        self.leaf("niveau-entree-obligatoire", &a.niveau_entree_obligatoire)?;
        self.leaf("modalites-alternance", &a.modalites_alternance)?;
        self.leaf("modalites-enseignement", &a.modalites_enseignement)?;
        self.leaf("conditions-specifiques", &a.conditions_specifiques)?;
        self.leaf(
            "prise-en-charge-frais-possible",
            &a.prise_en_charge_frais_possible,
        )?;
        for l in &a.lieux {
            self.open("lieu-de-formation", &[])?;
            self.opt_node(&l.siret)?;
            self.opt_node(&l.uai)?;
            self.coordonnees(&l.coordonnees)?;
            self.nodes(&l.extras)?;
            self.close("lieu-de-formation")?;
        }
        self.leaf("modalites-entrees-sorties", &a.modalites_entrees_sorties)?;
        self.opt_node(&a.url)?;
        self.opt("duree-cycle", &a.duree_cycle)?;
        for s in &a.sessions {
            self.session(s)?;
        }
        if let Some(b) = &a.adresse_information {
            self.adresse_bloc("adresse-information", b)?;
        }
        self.nodes(&a.dates_information)?;
        self.opt("restauration", &a.restauration)?;
        self.opt("hebergement", &a.hebergement)?;
        self.opt("transport", &a.transport)?;
        self.opt("acces-handicapes", &a.acces_handicapes)?;
        for l in &a.langues {
            self.leaf("langue-formation", l)?;
        }
        self.opt("modalites-recrutement", &a.modalites_recrutement)?;
        self.opt("modalites-pedagogiques", &a.modalites_pedagogiques)?;
        for c in &a.codes_modalite_pedagogique {
            self.code("code-modalite-pedagogique", c)?;
        }
        self.nodes(&a.equipements)?;
        self.opt("frais-restants", &a.frais_restants)?;
        self.opt("code-perimetre-recrutement", &a.code_perimetre_recrutement)?;
        self.opt(
            "infos-perimetre-recrutement",
            &a.infos_perimetre_recrutement,
        )?;
        self.opt("prix-horaire-TTC", &a.prix_horaire_ttc)?;
        self.opt("prix-total-TTC", &a.prix_total_ttc)?;
        self.opt("duree-indicative", &a.duree_indicative)?;
        self.opt_num("nombre-heures-centre", a.nombre_heures_centre)?;
        self.opt_num("nombre-heures-entreprise", a.nombre_heures_entreprise)?;
        self.opt_num("nombre-heures-total", a.nombre_heures_total)?;
        self.opt(
            "detail-conditions-prise-en-charge",
            &a.detail_conditions_prise_en_charge,
        )?;
        self.opt("conventionnement", &a.conventionnement)?;
        self.opt_num("duree-conventionnee", a.duree_conventionnee)?;
        self.nodes(&a.organismes_formateurs)?;
        for f in &a.financeurs {
            self.open("organisme-financeur", &[])?;
            self.leaf("code-financeur", &f.code_financeur)?;
            self.opt_num("nb-places-financees", f.nb_places_financees)?;
            self.nodes(&f.extras)?;
            self.close("organisme-financeur")?;
        }
        self.nodes(&a.enseignements)?;
        self.nodes(&a.extras)?;
        self.close("action")
    }

    fn session(&mut self, s: &Session) -> io::Result<()> {
        self.open(
            "session",
            &Self::keyed(&s.numero, &s.datecrea, &s.datemaj, &s.attrs),
        )?;
        self.open("periode", &[])?;
        self.leaf("debut", &s.periode.debut)?;
        self.leaf("fin", &s.periode.fin)?;
        self.nodes(&s.periode.extras)?;
        self.close("periode")?;
        self.adresse_bloc("adresse-inscription", &s.adresse_inscription)?;
        self.opt("modalites-inscription", &s.modalites_inscription)?;
        self.opt_node(&s.periode_inscription)?;
        self.opt("etat-recrutement", &s.etat_recrutement)?;
        self.nodes(&s.details)?;
        self.nodes(&s.extras)?;
        let deja = s.extras.iter().any(|n| {
            n.attrs
                .iter()
                .any(|(k, v)| k == "info" && v == "eligibilite-cpf")
        });
        if self.eligibilite_cpf && !deja {
            self.open("extras", &[("info".into(), "eligibilite-cpf".into())])?;
            self.leaf_attrs(
                "extra",
                &[("info".into(), "source".into())],
                "sofi : certification enregistrée en cours de validité",
            )?;
            self.close("extras")?;
        }
        self.close("session")
    }

    fn organisme(&mut self, o: &Organisme) -> io::Result<()> {
        self.open("organisme-formation-responsable", &o.attrs)?;
        self.leaf("numero-activite", &o.numero_activite)?;
        self.open("SIRET-organisme-formation", &[])?;
        self.leaf("SIRET", &o.siret)?;
        self.nodes(&o.siret_extras)?;
        self.close("SIRET-organisme-formation")?;
        self.leaf("nom-organisme", &o.nom)?;
        self.leaf("raison-sociale", &o.raison_sociale)?;
        self.open("coordonnees-organisme", &[])?;
        self.coordonnees(&o.coordonnees)?;
        self.nodes(&o.coordonnees_extras)?;
        self.close("coordonnees-organisme")?;
        for c in &o.contacts {
            self.contact("contact-organisme", c)?;
        }
        self.opt("renseignements-specifiques", &o.renseignements_specifiques)?;
        self.opt_node(&o.potentiel)?;
        self.opt_node(&o.uai)?;
        self.nodes(&o.extras)?;
        self.close("organisme-formation-responsable")
    }
}
